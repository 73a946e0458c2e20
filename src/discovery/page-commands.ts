import type { PageModel } from './page-model.ts';

export interface Command {
  label: string;
  text: string;
}

/** The copy-paste commands for a page: trust the keys, fetch, push, and auth.d for private names. */
export function pageCommands(m: PageModel): Command[] {
  const commands: Command[] = [{ label: `Trust the signing keys for ${m.name}`, text: `sudo rkt trust --prefix ${m.name}` }];
  const image = m.image?.visible ? m.image : undefined;
  const example = image?.versions[0];
  if (m.image) {
    const pinned = example ? `sudo rkt fetch ${m.name}:${example.version}\n` : '';
    commands.push({ label: 'Fetch it (a bare name means the latest version for your os/arch)', text: `${pinned}sudo rkt fetch ${m.name}` });
  }
  const base = m.image ? m.name.slice(m.name.lastIndexOf('/') + 1) : 'app';
  commands.push({
    label: `Push a signed image (its manifest names ${m.image ? m.name : `${m.name}/…`}; the token needs the push scope)`,
    text:
      `gpg --armor --detach-sign ${base}.aci\n` +
      `curl --fail-with-body -H "Authorization: Bearer $TOKEN" \\\n` +
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
