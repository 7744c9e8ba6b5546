"""Tools for the Hub's developers, never part of a clinic's Hub: speed
figures (`./hub bench`) and mutation testing (`./hub mutants`).

Only devtools.settings installs this app, and only `./hub bench` and
`./hub mutants` load those settings; the Hub's own settings
(hubsite.settings) never do, and no app of the Hub imports it.
"""
