"""The screen itself: point-in-time fields, filters, normalisation, ranking, verdicts.

`ENGINE_VERSION` names what this engine computes. Bump it (by one) in the same commit as any
change that can change a result for the same rule text, data and as-of date: a field's
definition, a filter's null handling, a normaliser, ranking or tie-breaks, buffers, pins, the
verdict columns or their reasons. It is part of every recorded run's identity (the history's
`inputs_key`) and is written into every export, so a run scored by an older engine is never
reported "identical" to a new one and a reader can tell which engine made a file. Pure speed-ups
and refactors that leave every result identical do not bump it.

History: 1 = filters, normalisation over passers, plain top N (up to 2026-11);
2 = groups (`within`, `per`), `missing`, `winsorize`, buffers (`keep`) and pins.
"""

ENGINE_VERSION = 2
