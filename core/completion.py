"""``sleuth completion bash|zsh|fish``: shell completion scripts written from the argparse parser itself.

Read from the parser at run time, so a new command or option completes without anyone touching this
file. Each script completes the commands, each command's options (with their choices where an option
has a fixed set) and file names where a command takes paths.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

PROG = "sleuth"


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...] = ()
    path: bool = False


@dataclass
class Command:
    name: str
    help: str
    options: list[Option] = field(default_factory=list)
    #: What the command's positional arguments complete to: fixed words, or file names.
    words: tuple[str, ...] = ()
    paths: bool = False


def _option(action: argparse.Action) -> Option:
    takes_value = action.nargs != 0
    choices = tuple(str(c) for c in action.choices) if action.choices and takes_value else ()
    return Option(
        tuple(action.option_strings), _plain(action.help), takes_value, choices, takes_value and action.type is Path
    )


def _plain(text: str | None) -> str:
    if not text or text == argparse.SUPPRESS:
        return ""
    return " ".join(text.replace("%(default)s", "").replace("%%", "%").split())


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def describe(parser: argparse.ArgumentParser) -> tuple[list[Option], list[Command]]:
    """The top-level options, and every command with its options and what its arguments are."""
    top = [_option(a) for a in parser._actions if a.option_strings]
    sub = _subparsers(parser)
    if sub is None:
        return top, []
    helps = {choice.dest: _plain(choice.help) for choice in sub._choices_actions}
    commands = []
    for name, command_parser in sub.choices.items():
        command = Command(name, helps.get(name, ""))
        for action in command_parser._actions:
            if action.option_strings:
                if command.options and set(action.option_strings) & {f for o in command.options for f in o.flags}:
                    continue  # the same flag declared twice (--verbose before and after the command)
                command.options.append(_option(action))
            elif action.choices:
                command.words += tuple(str(c) for c in action.choices)
            elif action.type is Path:
                command.paths = True
        commands.append(command)
    return top, commands


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    top, commands = describe(parser)
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](top, commands)


# --- bash ----------------------------------------------------------------------------------------


def _bash_value_cases(options: list[Option], indent: str) -> list[str]:
    """``case "$prev"`` arms: an option's choices, a folder or file, or nothing to offer for a free value."""
    lines = []
    for option in options:
        if not option.takes_value:
            continue
        pattern = "|".join(option.flags)
        if option.choices:
            lines.append(
                f'{indent}{pattern}) COMPREPLY=($(compgen -W "{" ".join(option.choices)}" -- "$cur")); return;;'
            )
        elif option.path:
            lines.append(f"{indent}{pattern}) return;;  # file names (complete -o default)")
        else:
            lines.append(f"{indent}{pattern}) COMPREPLY=(); compopt +o default 2>/dev/null; return;;")
    return lines


def _bash(top: list[Option], commands: list[Command]) -> str:
    value_flags = " | ".join(f for o in top if o.takes_value for f in o.flags) or "--never--"
    lines = [
        f'# bash completion for {PROG}: eval "$({PROG} completion bash)", or save it as',
        f"# ~/.local/share/bash-completion/completions/{PROG}",
        f"_{PROG}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" command="" i',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in',
        f"            {value_flags}) ((i++));;",
        "            -*) ;;",
        '            *) command="${COMP_WORDS[i]}"; break;;',
        "        esac",
        "    done",
        '    case "$command" in',
        '        "")',
        '            case "$prev" in',
        *_bash_value_cases(top, "                "),
        "            esac",
        f'            COMPREPLY=($(compgen -W "{" ".join(f for o in top for f in o.flags)} '
        f'{" ".join(c.name for c in commands)}" -- "$cur"));;',
    ]
    for command in commands:
        flags = " ".join(f for o in command.options for f in o.flags)
        lines += [f"        {command.name})", '            case "$prev" in']
        lines += _bash_value_cases(command.options, "                ")
        lines += ["            esac", '            if [[ "$cur" == -* ]]; then']
        lines.append(f'                COMPREPLY=($(compgen -W "{flags}" -- "$cur"))')
        if command.words:
            lines += [
                "            else",
                f'                COMPREPLY=($(compgen -W "{" ".join(command.words)}" -- "$cur"))',
            ]
        lines += ["            fi;;"]
    lines += ["    esac", "}", f"complete -o default -F _{PROG} {PROG}", ""]
    return "\n".join(lines)


# --- zsh -----------------------------------------------------------------------------------------


def _zsh_text(text: str) -> str:
    """Help text inside a single-quoted ``_arguments`` spec: no brackets, colons escaped."""
    return text.replace("'", "'\\''").replace("[", "(").replace("]", ")").replace(":", "\\:")


def _zsh_specs(options: list[Option]) -> list[str]:
    specs = []
    for option in options:
        value = ""
        if option.takes_value:
            what = option.flags[-1].lstrip("-")
            action = f"({' '.join(option.choices)})" if option.choices else "_files" if option.path else " "
            value = f":{what}:{action}"
        for flag in option.flags:
            specs.append(f"'{flag}[{_zsh_text(option.help)}]{value}'")
    return specs


def _zsh(top: list[Option], commands: list[Command]) -> str:
    lines = [
        f"#compdef {PROG}",
        f"# zsh completion for {PROG}: save it as _{PROG} in a folder on $fpath, or source it after compinit",
        f"_{PROG}() {{",
        "    local state line",
        "    _arguments -C \\",
        *(f"        {spec} \\" for spec in _zsh_specs(top)),
        "        '1: :->command' \\",
        "        '*:: :->args'",
        '    case "$state" in',
        "        command)",
        "            local -a commands",
        "            commands=(",
        *(f"                '{c.name}:{_zsh_text(c.help)}'" for c in commands),
        "            )",
        "            _describe command commands;;",
        "        args)",
        '            case "${line[1]}" in',
    ]
    for command in commands:
        specs = _zsh_specs(command.options)
        if command.words:
            specs.append(f"'1: :({' '.join(command.words)})'")
        elif command.paths:
            specs.append("'*: :_files'")
        lines.append(f"                {command.name})")
        lines.append("                    _arguments \\")
        lines += [f"                        {spec} \\" for spec in specs[:-1]]
        lines.append(f"                        {specs[-1]};;" if specs else "                        ;;")
    lines += ["            esac;;", "    esac", "}", f'if [ "$funcstack[1]" = "_{PROG}" ]; then', f'    _{PROG} "$@"']
    lines += ["else", f"    compdef _{PROG} {PROG}", "fi", ""]
    return "\n".join(lines)


# --- fish ----------------------------------------------------------------------------------------


def _fish_text(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(condition: str, option: Option) -> str:
    parts = [f"complete -c {PROG} -n {_fish_text(condition)}"]
    for flag in option.flags:
        parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
    if option.choices:
        parts.append(f"-x -a {_fish_text(' '.join(option.choices))}")
    elif option.path:
        parts.append("-r -F")
    elif option.takes_value:
        parts.append("-x")
    if option.help:
        parts.append(f"-d {_fish_text(option.help)}")
    return " ".join(parts)


def _fish(top: list[Option], commands: list[Command]) -> str:
    lines = [
        f"# fish completion for {PROG}: save it as ~/.config/fish/completions/{PROG}.fish",
        f"complete -c {PROG} -f",
    ]
    lines += [_fish_option("__fish_use_subcommand", option) for option in top]
    for command in commands:
        lines.append(f"complete -c {PROG} -n __fish_use_subcommand -a {command.name} -d {_fish_text(command.help)}")
    for command in commands:
        condition = f"__fish_seen_subcommand_from {command.name}"
        lines += [_fish_option(condition, option) for option in command.options]
        if command.words:
            lines.append(f"complete -c {PROG} -n {_fish_text(condition)} -a {_fish_text(' '.join(command.words))}")
        elif command.paths:
            lines.append(f"complete -c {PROG} -n {_fish_text(condition)} -F")
    return "\n".join(lines) + "\n"
