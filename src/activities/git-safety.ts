/**
 * What makes Mission's own git immune to what an agent plants in the repository (issue 12, item 3).
 *
 * Agents work in a worktree of the user's repository, so whatever they can write of the shared `.git` (a hook, a line
 * of config, an attributes file) would run inside Mission's next commit, merge or status: with the worker's rights,
 * outside any sandbox. Every git command Mission runs goes through the git helper (git-process.ts), which sets these
 * at the highest precedence git has (GIT_CONFIG_COUNT/KEY/VALUE, the environment form of `git -c`: keys with any
 * characters, no parsing of `=`):
 *
 * - hooks: `core.hooksPath=/dev/null`. Not a folder at all, so nothing can ever be planted in it (an empty folder
 *   would be one more place to guard); git looks for `/dev/null/<hook>`, finds nothing, and runs none: pre-commit,
 *   post-commit, reference-transaction, post-checkout, post-merge, pre-auto-gc, ... Mission's commits also pass
 *   --no-verify, as before.
 * - `core.fsmonitor=false`: the fsmonitor hook would run on every status, add and diff.
 * - editors and pagers (`core.editor`, `sequence.editor`, `core.pager`): Mission never opens one (-m, --no-edit, no
 *   terminal), set to harmless programs anyway.
 * - signing: `commit.gpgSign`/`tag.gpgSign` off and `log.showSignature` off, so `gpg.program` (and the ssh and
 *   x509 ones) never run in a commit, a merge or `git log`.
 * - transports: `protocol.allow=never`, so `core.sshCommand`, `core.gitProxy`, `core.askPass`, credential helpers,
 *   `url.*.insteadOf` and `ext::` can never be reached through Mission's git, except in the clone, fetch and push of
 *   a repository named by URL (remote.ts), which allow that URL's transport only, and name the URL, not a remote.
 *   (Not done yet: reading `core.sshCommand` and credential helpers from the user's global config only.)
 * - `diff.external` emptied, and `--no-ext-diff` on every diff, log and show: patches Mission prints (the validator's
 *   brief) come from git's own diff, and no external diff program runs.
 * - `submodule.recurse=false`: nothing checked out or run in submodules; `gc.auto=0` and `maintenance.auto=false`:
 *   no background `git gc` left running in the user's repository (Mission's git never outlives its command).
 * - GIT_OPTIONAL_LOCKS=0: `git status` in the user's checkout does not rewrite its index.
 * - drivers: `filter.<x>.clean/smudge/process` (run by add, status, checkout, reset, merge), `merge.<x>.driver`
 *   (run by merge) and `diff.<x>.textconv/command` are chosen by name in `.gitattributes` — which agents edit — and
 *   defined under any name in config, so no fixed list covers them. Before each command the helper lists those the
 *   repository's own config defines (local and worktree scope, includes of those counted) and overrides them:
 *   filters emptied (git then stores and checks out the bytes as they are), merge drivers replaced by git's own
 *   text merge (`git merge-file`, conflicts marked as usual), textconv by `cat`. Drivers in the user's global and
 *   system config (git-lfs) keep working: an agent cannot write those when sandboxed, and the after-step check
 *   (integrity.ts) sees a change to them when it is not.
 * - `include.path`/`includeIf` cannot be switched off per command, but what they include is config like any other:
 *   the fixed keys above override it, the driver scan sees through includes, and the after-step check compares the
 *   effective config with its origin files.
 *
 * - never reachable through Mission's commands, so left alone: `uploadpack.packObjectsHook` (git only honours it
 *   from system/global config, and only in upload-pack, which Mission never runs), `alias.*` (Mission runs built-in
 *   commands only, and git never lets an alias replace one), `trailer.*.command` (run by interpret-trailers and
 *   `commit --trailer`, neither used).
 *
 * Not overridden, on purpose: the user's identity (user.name/email) and everything else of their config, because
 * Mission's commits must look like the user's own repository made them. GIT_CONFIG_GLOBAL and GIT_CONFIG_NOSYSTEM are
 * left alone for that reason.
 */
export const GIT_SAFETY = {
  config: [
    ['core.hooksPath', '/dev/null'],
    ['core.fsmonitor', 'false'],
    ['core.editor', ':'],
    ['sequence.editor', ':'],
    ['core.pager', 'cat'],
    ['commit.gpgSign', 'false'],
    ['tag.gpgSign', 'false'],
    ['log.showSignature', 'false'],
    ['protocol.allow', 'never'],
    ['diff.external', ''],
    ['submodule.recurse', 'false'],
    ['gc.auto', '0'],
    ['maintenance.auto', 'false'],
  ] as [string, string][],
  env: { GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', GIT_EDITOR: ':' } as Record<string, string>,
  /** `git config --get-regexp` pattern of driver commands (git lowercases section and variable names). */
  driverPattern: '^(filter|merge|diff)\\..+\\.(clean|smudge|process|driver|textconv|command)$',
  /** Config scopes an agent can reach through the repository (`git config --show-scope`). */
  repoScopes: ['local', 'worktree'],
  /** Commands that never run a filter, merge or diff driver (they read refs, objects or config). */
  readOnly: ['rev-parse', 'rev-list', 'for-each-ref', 'show-ref', 'symbolic-ref', 'merge-base', 'config', 'ls-tree', 'ls-files', 'cat-file'],
  /** Commands that can print a patch: they get --no-ext-diff. */
  patchCommands: ['diff', 'log', 'show'],
  /** What each driver command becomes when the repository's config defines it. */
  driverValues: {
    'filter.clean': '',
    'filter.smudge': '',
    'filter.process': '',
    'merge.driver': 'git merge-file --marker-size=%L %A %O %B',
    'diff.textconv': 'cat',
    'diff.command': '',
  } as Record<string, string>,
};
