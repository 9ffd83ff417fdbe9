"""The ``hrtrack`` commands' options, one small module each: ``add_parser(sub)`` declares a command and
names the function that runs it (imported only then). :mod:`tracker.cli` puts them together."""
