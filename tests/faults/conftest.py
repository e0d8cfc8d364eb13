"""The fault-class table: one test file per class of fault, one test per case (a row).

Each ``test_<class>.py`` here holds the cases of one class of fault that fairdd closes by design
(ownership of files, verified caches, disk errors, types at the boundary, unmeasurable fairness,
sweep truth, controller truth, nothing waits forever). The terminal summary counts the rows per
class (``tests/conftest.py``: these files, and the rows of ``tests/test_bad_inputs.py``, each
marked with its class), so a run shows how many cases each class has and how many hold.
"""
