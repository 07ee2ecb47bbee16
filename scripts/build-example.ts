/**
 * Builds the sample host channel (examples/paywall-channel) the way its developers would: the
 * purchase flow's ropm package (dist/ropm), `ropm install` in the sample, then bsc.
 *   prod: what viewers would get (out/bsconfig.zip in the sample)
 *   e2e:  plus the test-only store emulator and csFake fixtures, TEST_BUILD on (out/bsconfig.e2e.zip)
 * The flow's config (relay URL, offer overrides) is written to pkg:/config/paywall.json from
 * RELAY_URL and OFFER_OVERRIDES.
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildRopmPackage } from './build-ropm';
import { flagValue } from './lib/args';
import { buildHostChannel, ropmInstall, type HostBuildResult } from './lib/host-channel';
import { loadEnv } from './build';

export const exampleDir = path.resolve(__dirname, '..', 'examples', 'paywall-channel');
const repoRoot = path.resolve(__dirname, '..');

export interface ExampleBuildOptions {
    target: 'prod' | 'e2e';
    /** Receipt relay (or Cleeng emulator) base URL; default RELAY_URL or http://127.0.0.1:8787. */
    relayUrl?: string;
    offerOverrides?: Record<string, string>;
    /** csFake scenario packaged in e2e builds (default new-viewer). */
    csfake?: string;
    outFile?: string;
    /** Reuse dist/ropm and the installed roku_modules (the caller just built them). */
    skipInstall?: boolean;
}

export async function buildExample(opts: ExampleBuildOptions): Promise<HostBuildResult> {
    const started = Date.now();
    const env = loadEnv(repoRoot);
    if (!opts.skipInstall) {
        await buildRopmPackage();
        await ropmInstall(exampleDir);
    }
    const overrides = opts.offerOverrides ?? (env.OFFER_OVERRIDES ? (JSON.parse(env.OFFER_OVERRIDES) as Record<string, string>) : {});
    const config = { relayUrl: opts.relayUrl ?? env.RELAY_URL ?? 'http://127.0.0.1:8787', offerOverrides: overrides };
    const extraFiles: Record<string, string> = { 'config/paywall.json': JSON.stringify(config, null, 2) + '\n' };
    if (opts.target === 'e2e') {
        const fixtures = path.join(repoRoot, 'test', 'csfake', opts.csfake ?? 'new-viewer');
        for (const file of fs.readdirSync(fixtures)) {
            extraFiles[`csfake/${file}`] = fs.readFileSync(path.join(fixtures, file), 'utf8');
        }
    }
    const project = path.join(exampleDir, opts.target === 'prod' ? 'bsconfig.json' : 'bsconfig.e2e.json');
    const result = await buildHostChannel({ dir: exampleDir, project, outFile: opts.outFile, extraFiles });
    return { ...result, durationMs: Date.now() - started };
}

if (require.main === module) {
    const argv = process.argv.slice(2);
    let target: 'prod' | 'e2e' = 'prod';
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === '--target') {
            const t = flagValue(argv, i++);
            if (t !== 'prod' && t !== 'e2e') {
                throw new Error(`--target must be prod or e2e, not ${t}`);
            }
            target = t;
        }
    }
    buildExample({ target })
        .then((r) => console.log(`sample ${target} build OK in ${(r.durationMs / 1000).toFixed(1)} s: ${path.relative(process.cwd(), r.zipPath)} (${(fs.statSync(r.zipPath).size / 1024).toFixed(1)} KB)`))
        .catch((err: Error & { diagnostics?: string[] }) => {
            console.error(err.message);
            process.exit(1);
        });
}
