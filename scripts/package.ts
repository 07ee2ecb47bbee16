/**
 * npm run package -- [options]
 *
 * The production channel zip for CI and for the Roku channel store: built from the prod target,
 * with the manifest's build_version set from the CI build number, and deterministic (the same
 * inputs always give the same bytes: sorted entries, fixed dates, fixed compression).
 */
import * as fs from 'fs';
import * as path from 'path';
import {
    buildProjectChannel,
    deterministicZip,
    parseManifestText,
    readZipToFolder,
    reportError,
    runCli,
    sha256,
    str,
    UsageError,
    type ScriptContext
} from './lib/device';
import { parseArgs } from 'util';
import { checkProductionStaging, loadEnv, scanZipForSecrets } from './build';

export const HELP = `usage: npm run package -- [options]

Builds the production channel and writes a deterministic zip into out/package/.

options:
  --staging <dir>         package this channel folder (manifest at its root) instead of building
  --zip <file>            re-package this channel zip instead of building
  --build-number <n>      manifest build_version (default: $BUILD_NUMBER, else $GITHUB_RUN_NUMBER, else 0)
  --out <file>            where to write the zip (default out/package/<title>-<major>.<minor>.<build>.zip)
  -h, --help              this help
`;

/** build_version for this run: --build-number, BUILD_NUMBER, GITHUB_RUN_NUMBER, else 0. */
export function buildNumber(flag: string | undefined, env: NodeJS.ProcessEnv): string {
    const sources: [string, string | undefined][] = [
        ['--build-number', flag],
        ['BUILD_NUMBER', env.BUILD_NUMBER],
        ['GITHUB_RUN_NUMBER', env.GITHUB_RUN_NUMBER]
    ];
    for (const [name, value] of sources) {
        if (value !== undefined && value.trim() !== '') {
            const v = value.trim();
            if (!/^\d{1,9}$/.test(v)) {
                throw new UsageError(`${name} must be a whole number for the manifest's build_version, not ${JSON.stringify(value)}`);
            }
            return String(Number(v));
        }
    }
    return '0';
}

/** Sets `build_version=<n>` in a manifest's text (replacing the line, or adding it). */
export function setBuildVersion(manifest: string, build: string): string {
    const eol = manifest.includes('\r\n') ? '\r\n' : '\n';
    if (/^\s*build_version\s*=.*$/m.test(manifest)) {
        return manifest.replace(/^(\s*)build_version\s*=.*$/m, `$1build_version=${build}`);
    }
    const base = manifest.length === 0 || manifest.endsWith('\n') ? manifest : manifest + eol;
    return `${base}build_version=${build}${eol}`;
}

/** A file-name-safe form of a channel title (`My Channel!` -> `my-channel`), used for the zip and the .pkg. */
export function slug(text: string): string {
    return (
        text
            .toLowerCase()
            .replace(/[^a-z0-9]+/g, '-')
            .replace(/^-+|-+$/g, '') || 'channel'
    );
}

export interface PackageResult {
    zipPath: string;
    sha256: string;
    bytes: number;
    version: string;
}

export async function packageChannel(opts: { stagingDir: string; build: string; out?: string; cwd: string; env?: NodeJS.ProcessEnv }): Promise<PackageResult> {
    const manifestPath = path.join(opts.stagingDir, 'manifest');
    if (!fs.existsSync(manifestPath)) {
        throw new UsageError(`${opts.stagingDir} has no manifest: not a channel folder`);
    }
    const manifest = parseManifestText(fs.readFileSync(manifestPath, 'utf8'));
    const version = `${manifest.major_version ?? '0'}.${manifest.minor_version ?? '0'}.${opts.build}`;
    const zipPath = path.resolve(opts.cwd, opts.out ?? path.join('out', 'package', `${slug(manifest.title ?? 'channel')}-${version}.zip`));
    // The same production checks and secret scan as `npm run build`, whatever the input (D1).
    const problems = checkProductionStaging(opts.stagingDir);
    if (problems.length > 0) {
        throw new UsageError('package refused: it contains things a viewer must not get', problems);
    }
    const zip = await deterministicZip(opts.stagingDir, (rel, data) => (rel === 'manifest' ? Buffer.from(setBuildVersion(data.toString('utf8'), opts.build), 'utf8') : data));
    const findings = await scanZipForSecrets(zip, { ...loadEnv(opts.cwd), ...(opts.env ?? {}) });
    if (findings.length > 0) {
        throw new UsageError('package refused: the package contains a configured secret', findings);
    }
    fs.mkdirSync(path.dirname(zipPath), { recursive: true });
    fs.writeFileSync(zipPath, zip);
    return { zipPath, sha256: sha256(zip), bytes: zip.length, version };
}

export async function run(argv: string[], ctx: ScriptContext): Promise<number> {
    let tmp: string | undefined;
    try {
        let values: Record<string, string | boolean | undefined>;
        try {
            values = parseArgs({
                args: argv,
                options: {
                    staging: { type: 'string' },
                    zip: { type: 'string' },
                    'build-number': { type: 'string' },
                    out: { type: 'string' },
                    help: { type: 'boolean', short: 'h' }
                },
                strict: true
            }).values;
        } catch (err) {
            throw new UsageError((err as Error).message, ['run with --help for the options']);
        }
        if (values.help) {
            ctx.stdout(HELP);
            return 0;
        }
        const build = buildNumber(str(values, 'build-number'), ctx.env);
        let stagingDir: string;
        const stagingFlag = str(values, 'staging');
        const zipFlag = str(values, 'zip');
        if (stagingFlag && zipFlag) {
            throw new UsageError('use either --staging or --zip, not both');
        }
        if (stagingFlag) {
            stagingDir = path.resolve(ctx.cwd, stagingFlag);
            if (!fs.existsSync(stagingDir)) {
                throw new UsageError(`no channel folder at ${stagingDir}`);
            }
        } else if (zipFlag) {
            tmp = await readZipToFolder(path.resolve(ctx.cwd, zipFlag));
            stagingDir = tmp;
        } else {
            stagingDir = (await buildProjectChannel(ctx, 'prod')).stagingDir;
        }
        const result = await packageChannel({ stagingDir, build, out: str(values, 'out'), cwd: ctx.cwd, env: ctx.env });
        ctx.stdout(`✔ ${path.relative(ctx.cwd, result.zipPath) || result.zipPath}  version ${result.version}  ${result.bytes} bytes  sha256 ${result.sha256}\n`);
        return 0;
    } catch (err) {
        return reportError(err, ctx);
    } finally {
        if (tmp) {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    }
}

if (require.main === module) {
    runCli(run);
}
