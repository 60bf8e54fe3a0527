"""``sk-mnist``'s own argument parser, for sphinx-argparse (docs/user_guide/cli.md).

The parser is ``sk_mnist.cli._build_parser()`` itself, so the reference cannot
drift from the program; the examples each ``--help`` ends with are added as its
epilog. sphinx-argparse reads help texts as reStructuredText, where
a trailing underscore (``cv_results_``) is a link; such underscores are escaped.
"""

import argparse
import re

from sk_mnist.cli import _build_parser

_TRAILING_UNDERSCORE = re.compile(r"(?<=\w)_(?!\w)")


def _escape(text):
    return text if text is None else _TRAILING_UNDERSCORE.sub(r"\\_", text)


def _escape_parser(parser):
    parser.description = _escape(parser.description)
    parser.epilog = _escape(parser.epilog)
    examples = getattr(parser, "examples", ())  # printed at the end of --help
    if examples:
        lines = [f"  {command}\n      {what}" for command, what in examples]
        parser.epilog = "\n\n".join(
            [parser.epilog or "", "Examples::", "\n".join(lines)]
        ).lstrip()
    for action in parser._actions:
        if action.help is not argparse.SUPPRESS:
            action.help = _escape(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = _escape(choice.help)
            for subparser in action.choices.values():
                _escape_parser(subparser)


def parser():
    """The ``sk-mnist`` parser, help texts escaped for reStructuredText."""
    built = _build_parser()
    _escape_parser(built)
    return built
