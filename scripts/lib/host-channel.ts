/**
 * Host channels: another channel that installs the purchase flow with ropm and builds with bsc.
 * Used by the sample under examples/ and by the throwaway-host test.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BuildError, runBsc } from '../build';
import { zipFolder } from './simulator';

const repoRoot = path.resolve(__dirname, '..', '..');
const ropmCli = path.join(repoRoot, 'node_modules', 'ropm', 'dist', 'cli.js');

/**
 * Runs the real ropm (`ropm install <spec>`) in `hostDir`. A local path needs no network; npm is
 * told to stay offline and skip the audit so it never waits on a registry.
 */
export async function ropmInstall(hostDir: string, spec?: string): Promise<string> {
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        npm_config_offline: 'true',
        npm_config_audit: 'false',
        npm_config_fund: 'false',
        npm_config_update_notifier: 'false',
        npm_config_loglevel: 'error'
    };
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [ropmCli, 'install', ...(spec ? [spec] : [])], { cwd: hostDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (d: Buffer) => (output += d.toString()));
        child.stderr.on('data', (d: Buffer) => (output += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => {
            if (code === 0) {
                resolve(output);
            } else {
                reject(new Error(`ropm install ${spec ?? ''} failed (exit ${code}) in ${hostDir}:\n${output}`));
            }
        });
    });
}

export interface HostBuildOptions {
    /** The host channel's folder (manifest, bsconfig.json, source/, components/). */
    dir: string;
    /** Its bsc project file (default <dir>/bsconfig.json). */
    project?: string;
    /** Where the zip goes (default <dir>/out/<project name>.zip). */
    outFile?: string;
    /** Files written into the staging folder before zipping, e.g. {"config/x.json": "…"}. */
    extraFiles?: Record<string, string>;
}

export interface HostBuildResult {
    zipPath: string;
    stagingDir: string;
    durationMs: number;
}

/** Builds a host channel with this repo's bsc; any diagnostic at all (error, warning, info) fails it. */
export async function buildHostChannel(opts: HostBuildOptions): Promise<HostBuildResult> {
    const started = Date.now();
    const dir = path.resolve(opts.dir);
    const project = path.resolve(opts.project ?? path.join(dir, 'bsconfig.json'));
    const name = path.basename(project, '.json');
    const stagingDir = path.join(dir, 'out', 'staging', name);
    const zipPath = path.resolve(opts.outFile ?? path.join(dir, 'out', `${name}.zip`));
    fs.rmSync(stagingDir, { recursive: true, force: true });
    // Hints are editor suggestions, not diagnostics of the build; everything else counts.
    const diagnostics = await runBsc({ project, cwd: dir, stagingDir, copyToStaging: true }, dir, (severity) => severity !== 4);
    if (diagnostics.length > 0) {
        throw new BuildError(`host channel ${dir} failed to build: ${diagnostics.length} diagnostic(s)\n${diagnostics.join("\n")}`, diagnostics);
    }
    for (const [rel, text] of Object.entries(opts.extraFiles ?? {})) {
        const file = path.join(stagingDir, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
    }
    fs.mkdirSync(path.dirname(zipPath), { recursive: true });
    fs.writeFileSync(zipPath, await zipFolder(stagingDir));
    return { zipPath, stagingDir, durationMs: Date.now() - started };
}
