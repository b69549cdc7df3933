/**
 * `baton completion bash|zsh`: shell completion scripts made from the command tables.
 * Commands, options and their choices complete offline; SERVICE completes to the services of
 * the running Baton (`baton __services`, with the socket options already typed), if one answers.
 */
import { COMMANDS, OPTIONS, optionByKey, type CommandSpec } from './commands.js';

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

/** Options that tell `__services` where Baton is. */
const TARGET_FLAGS = OPTIONS.filter((o) => ['socket', 'control', 'tokenFile', 'config'].includes(o.key)).flatMap((o) => o.flags);

export function completionScript(shell: Shell): string {
  return shell === 'bash' ? bash() : zsh();
}

function flagsOf(spec: CommandSpec): string[] {
  return [...spec.options, 'help' as const].flatMap((k) => optionByKey(k).flags);
}

function positionalKinds(spec: CommandSpec): string {
  return (spec.complete ?? []).join(' ');
}

function bash(): string {
  const names = COMMANDS.map((c) => c.name).join(' ');
  const valued = OPTIONS.filter((o) => o.value !== undefined).flatMap((o) => o.flags);
  const cases = COMMANDS.map((c) => `    ${c.name}) opts="${flagsOf(c).join(' ')}"; kinds="${positionalKinds(c)}" ;;`).join('\n');
  const valueCases = OPTIONS.filter((o) => o.value !== undefined)
    .map((o) => `    ${o.flags.join('|')}) ${o.choices !== undefined ? `COMPREPLY=($(compgen -W "${o.choices.join(' ')}" -- "$cur"))` : o.file === true ? 'COMPREPLY=($(compgen -f -- "$cur"))' : 'COMPREPLY=()'}; return ;;`)
    .join('\n');
  return `# bash completion for baton: source <(baton completion bash)
_baton() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmd="" i w npos=0 skip=0 opts="" kinds=""
  local -a target=()
  case "$prev" in
${valueCases}
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$w" in
      ${TARGET_FLAGS.join('|')}) target+=("$w" "\${COMP_WORDS[i+1]}"); skip=1 ;;
      ${valued.join('|')}) skip=1 ;;
      -*) ;;
      *) if [[ -z "$cmd" ]]; then cmd="$w"; else npos=$((npos + 1)); fi ;;
    esac
  done
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${names} --help --version" -- "$cur"))
    return
  fi
  case "$cmd" in
${cases}
    *) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    return
  fi
  local -a k=($kinds)
  local kind="\${k[npos]:-\${k[\${#k[@]}-1]}}"
  case "$kind" in
    service) COMPREPLY=($(compgen -W "$(baton __services "\${target[@]}" 2>/dev/null)" -- "$cur")) ;;
    command) COMPREPLY=($(compgen -W "${names}" -- "$cur")) ;;
    shell) COMPREPLY=($(compgen -W "${SHELLS.join(' ')}" -- "$cur")) ;;
    *) COMPREPLY=() ;;
  esac
}
complete -F _baton baton
`;
}

function zsh(): string {
  const describe = COMMANDS.map((c) => `    '${c.name}:${c.summary.replaceAll("'", "'\\''").replaceAll(':', '\\:')}'`).join('\n');
  const optSpec = (spec: CommandSpec): string =>
    [...spec.options, 'help' as const]
      .map((k) => {
        const o = optionByKey(k);
        const help = o.help.replaceAll("'", "'\\''").replaceAll('[', '(').replaceAll(']', ')');
        const action = o.value === undefined ? '' : `:${o.value.toLowerCase()}:${o.choices !== undefined ? `(${o.choices.join(' ')})` : o.file === true ? '_files' : ' '}`;
        const flags = o.flags.length === 1 ? o.flags[0]! : `{${o.flags.join(',')}}`;
        const exclusive = o.flags.length === 1 ? '' : `(${o.flags.join(' ')})`;
        return o.flags.length === 1 ? `'${flags}[${help}]${action}'` : `'${exclusive}'${flags}'[${help}]${action}'`;
      })
      .join(' \\\n        ');
  const positional = (spec: CommandSpec): string =>
    (spec.complete ?? [])
      .map((kind, i) => {
        const action = kind === 'service' ? '_baton_services' : kind === 'command' ? `(${COMMANDS.map((c) => c.name).join(' ')})` : kind === 'shell' ? `(${SHELLS.join(' ')})` : ' ';
        return ` \\\n        '${i + 1}:${kind}:${action}'`;
      })
      .join('');
  const cases = COMMANDS.map((c) => `    ${c.name})\n      _arguments -s \\\n        ${optSpec(c)}${positional(c)}\n      ;;`).join('\n');
  return `#compdef baton
# zsh completion for baton: source <(baton completion zsh), or save as _baton in a folder of $fpath
_baton_services() {
  local -a target services
  local i
  for ((i = 2; i < CURRENT; i++)); do
    case "\${words[i]}" in
      ${TARGET_FLAGS.join('|')}) target+=("\${words[i]}" "\${words[i+1]}") ;;
    esac
  done
  services=(\${(f)"$(baton __services "\${target[@]}" 2>/dev/null)"})
  _describe 'service' services
}

_baton() {
  local -a commands
  commands=(
${describe}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd="\${words[2]}"
  shift words
  (( CURRENT-- ))
  case "$cmd" in
${cases}
  esac
}

if [[ "$funcstack[1]" == _baton ]]; then
  _baton "$@"
else
  compdef _baton baton
fi
`;
}
