import type { PageModel } from './page-model.ts';

export interface Command {
  label: string;
  text: string;
}

/** `s` as one shell word: a path may hold spaces or quotes. */
export const shellWord = (s: string): string => (/^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * curl, told where the development CA is when the server's certificate comes from it.
 * The page names the file where the server keeps it rather than offering it for
 * download: a first download could not be verified, and a command that works
 * only with verification off teaches the wrong habit.
 */
export const curl = (m: Pick<PageModel, 'devCa'>): string => (m.devCa ? `curl --cacert ${shellWord(m.devCa)}` : 'curl');

/** rkt reads the system's trust store; SSL_CERT_FILE points it at the development CA for one command. */
const rkt = (m: Pick<PageModel, 'devCa'>): string => (m.devCa ? `sudo SSL_CERT_FILE=${shellWord(m.devCa)} rkt` : 'sudo rkt');

function devCaCommand(devCa: string): Command {
  return {
    label:
      "This server's certificate is signed by its development CA, which no client trusts by itself. The commands below " +
      `name the CA's certificate, ${devCa}, which works on the server's own machine; elsewhere, copy that file over ` +
      '(scp, say) and change the path, rather than turning verification off. Or trust it system-wide (Debian, Ubuntu), ' +
      'after which curl and rkt need no path:',
    text: `sudo cp ${shellWord(devCa)} /usr/local/share/ca-certificates/acihost-dev.crt && sudo update-ca-certificates`,
  };
}

/**
 * The prefixes `rkt trust --prefix` can be given here: those of the keys covering the
 * name, then those below it. rkt trusts the keys it discovers for a prefix, so any
 * other prefix would find none.
 */
export function trustPrefixes(m: PageModel): string[] {
  return [...new Set(m.keys.map((k) => k.prefix)), ...m.keyPrefixesBelow.prefixes];
}

function trustCommand(m: PageModel): Command[] {
  const prefixes = trustPrefixes(m);
  if (prefixes.length === 0) return [];
  const label =
    prefixes.length === 1
      ? `Trust the signing keys for ${prefixes[0]}`
      : 'Trust the signing keys of the prefix you fetch from (one line per prefix with keys)';
  return [{ label, text: prefixes.map((p) => `${rkt(m)} trust --prefix ${p}`).join('\n') }];
}

/** The copy-paste commands for a page: trust the keys, fetch, push, and auth.d for private names. */
export function pageCommands(m: PageModel): Command[] {
  const commands = [...(m.devCa ? [devCaCommand(m.devCa)] : []), ...trustCommand(m)];
  const image = m.image?.visible ? m.image : undefined;
  const example = image?.versions[0];
  if (m.image) {
    const pinned = example ? `${rkt(m)} fetch ${m.name}:${example.version}\n` : '';
    commands.push({
      label: 'Fetch it (a bare name means the latest version for your os/arch)',
      text: `${pinned}${rkt(m)} fetch ${m.name}`,
    });
  }
  const base = m.image ? m.name.slice(m.name.lastIndexOf('/') + 1) : 'app';
  commands.push({
    label: `Push a signed image (its manifest names ${m.image ? m.name : `${m.name}/…`}; the token needs the push scope)`,
    text:
      `gpg --armor --detach-sign ${base}.aci\n` +
      `${curl(m)} --fail-with-body -H "Authorization: Bearer $TOKEN" \\\n` +
      `  -F asc=@${base}.aci.asc -F aci=@${base}.aci ${m.origin}/-/push`,
  });
  if (m.isPrivate) {
    commands.push({
      label: 'Downloads here need a token with the pull scope: give it to rkt in /etc/rkt/auth.d/acihost.json',
      text: JSON.stringify(
        { rktKind: 'auth', rktVersion: 'v1', domains: [m.domain], type: 'oauth', credentials: { token: 'acih_…' } },
        null,
        2,
      ),
    });
  }
  return commands;
}
