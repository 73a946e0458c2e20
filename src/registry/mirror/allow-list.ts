import type { UpstreamSettings } from '../../config/mirrors-schema.ts';

/** An upstream repository, as the distribution API names it. */
export interface UpstreamRepository {
  registry: string;
  repository: string;
}

/** One allowed upstream repository and the local name its images take. */
export interface MirrorMapping extends UpstreamRepository {
  name: string;
  upstream: UpstreamSettings;
}

interface Rule {
  upstream: UpstreamSettings;
  registry: string;
  /** The repository, or the path every repository below is allowed under (`wide`). */
  path: string;
  wide: boolean;
}

/**
 * The configured upstreams read both ways: which local name an upstream repository takes,
 * and which upstream repository a local name stands for. Nothing outside it is fetched.
 */
export class AllowList {
  private readonly rules: Rule[];

  constructor(upstreams: readonly UpstreamSettings[]) {
    this.rules = upstreams.map((upstream) => {
      const wide = upstream.source.endsWith('/*');
      const source = wide ? upstream.source.slice(0, -2) : upstream.source;
      const slash = source.indexOf('/');
      return {
        upstream,
        wide,
        registry: slash < 0 ? source : source.slice(0, slash),
        path: slash < 0 ? '' : source.slice(slash + 1),
      };
    });
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The first rule allowing `source`, with the local name it maps to; undefined when none does. */
  forUpstream(source: UpstreamRepository): MirrorMapping | undefined {
    for (const rule of this.rules) {
      if (rule.registry !== source.registry) continue;
      if (!rule.wide) {
        if (source.repository === rule.path) return { ...source, name: rule.upstream.prefix, upstream: rule.upstream };
        continue;
      }
      const rest = rule.path === '' ? source.repository : below(source.repository, rule.path);
      if (rest) return { ...source, name: `${rule.upstream.prefix}/${rest}`, upstream: rule.upstream };
    }
    return undefined;
  }

  /** The upstream repository a local name stands for, when a pull-through rule covers it. */
  forName(name: string): MirrorMapping | undefined {
    for (const rule of this.rules) {
      if (rule.upstream.pullThrough === false) continue;
      const { prefix } = rule.upstream;
      if (!rule.wide) {
        if (name === prefix) return { registry: rule.registry, repository: rule.path, name, upstream: rule.upstream };
        continue;
      }
      const rest = below(name, prefix);
      if (rest) return { registry: rule.registry, repository: rule.path ? `${rule.path}/${rest}` : rest, name, upstream: rule.upstream };
    }
    return undefined;
  }

  /** Whether a pull-through rule maps `name` to an upstream repository: discovery answers for it stored or not. */
  coversName(name: string): boolean {
    return this.forName(name) !== undefined;
  }
}

/** What follows `path/` in `full`, or undefined when `full` is not below `path`. */
function below(full: string, path: string): string | undefined {
  return full.startsWith(`${path}/`) && full.length > path.length + 1 ? full.slice(path.length + 1) : undefined;
}
