import type { Config } from '../config/schema.ts';
import { operatorToken } from '../registry/access/operator-token.ts';
import { readSigningSecret } from '../registry/trust/signing-secret.ts';
import type { CliValues } from './args.ts';
import { withRegistry } from './open-registry.ts';

/**
 * `acihost convert docker://REGISTRY/REPO:TAG [--as NAME] [--ca-file FILE] [--insecure-http] [--json]`:
 * converts an upstream image into versions signed by the server, as the operator with the
 * storage at hand. Prints one line per version published, as a push's answer names it.
 */
export async function convertCommand(config: Config, args: string[], values: CliValues): Promise<number> {
  const secret = readSigningSecret();
  return withRegistry(
    config,
    async (registry) => {
      // The CLI registry does not poll: the keys and the server's signing keys are read once.
      await registry.keys.list();
      await registry.signer.load();
      const operator = operatorToken(registry.domain, 'convert');
      const record = await registry.conversions.runAsOperator(operator, args[0]!, values.as, {
        caFile: values['ca-file'],
        insecureHttp: values['insecure-http'],
      });
      if (values.json === true) {
        process.stdout.write(JSON.stringify(record, null, 2) + '\n');
        return 0;
      }
      for (const i of record.images) {
        process.stdout.write(
          `${i.outcome === 'created' ? 'published' : 'already published'} ${i.name} version ${i.version} ${i.os}/${i.arch} image ${i.imageId}\n`,
        );
      }
      for (const s of record.skipped) process.stdout.write(`skipped ${s.platform}: ${s.reason}\n`);
      return 0;
    },
    undefined,
    { signingSecret: secret },
  );
}
