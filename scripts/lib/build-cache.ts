/**
 * Cache of compiled channels, by content hash. A key covers everything the compiler sees: the
 * resolved bsconfig (minus where it writes), every file its `files` patterns select (names and
 * bytes), the bslint config, and the tooling itself (package-lock.json, scripts/, contract/). Same
 * key, same compiler output: the staging folder is copied from out/build-cache/ instead of
 * compiling again. Only builds that passed (no compiler or bslint problem) are stored.
 *
 *   BUILD_CACHE=0    always compile
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

const repoRoot = path.resolve(__dirname, '..', '..');
const KEEP = 24;
const MARKER = '.build-cache-complete';

function hashTree(hash: ReturnType<typeof createHash>, dir: string, label: string): void {
    if (!fs.existsSync(dir)) {
        return;
    }
    const walk = (rel: string): void => {
        const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
        for (const e of entries) {
            const relPath = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory()) {
                if (e.name !== 'node_modules' && e.name !== '.git') {
                    walk(relPath);
                }
            } else if (e.isFile()) {
                hash.update(`${label}/${relPath}\0`).update(fs.readFileSync(path.join(dir, relPath))).update('\0');
            }
        }
    };
    walk('');
}

function hashFile(hash: ReturnType<typeof createHash>, file: string, label: string): void {
    if (fs.existsSync(file) && fs.statSync(file).isFile()) {
        hash.update(`${label}\0`).update(fs.readFileSync(file)).update('\0');
    }
}

/** The cache key of compiling `project` (a bsconfig path) with `rootDir` as the project root. */
export async function compileKey(project: string, rootDir: string, extra: string): Promise<string> {
    // Loaded lazily: both are heavy and only needed when a build runs.
    const { util } = await import('brighterscript');
    const rokuDeploy = await import('roku-deploy');
    const config = { ...(util.loadConfigFile(project) ?? {}) } as Record<string, unknown>;
    delete config.stagingDir;
    delete config.stagingFolderPath;
    const hash = createHash('sha256');
    hash.update(`v1\0${extra}\0${path.resolve(rootDir)}\0${JSON.stringify(config)}\0`);
    const files = await rokuDeploy.getFilePaths((config.files as never) ?? [], rootDir);
    for (const f of [...files].sort((a, b) => a.dest.localeCompare(b.dest))) {
        hash.update(`file ${f.dest}\0`).update(fs.readFileSync(f.src)).update('\0');
    }
    hashFile(hash, path.join(rootDir, 'bslint.json'), 'bslint.json');
    if (typeof config.lintConfig === 'string') {
        hashFile(hash, path.resolve(rootDir, config.lintConfig), 'lintConfig');
    }
    hashFile(hash, path.join(repoRoot, 'package-lock.json'), 'package-lock.json');
    hashTree(hash, path.join(repoRoot, 'scripts'), 'scripts');
    hashTree(hash, path.join(repoRoot, 'contract'), 'contract');
    return hash.digest('hex').slice(0, 32);
}

export function cacheEnabled(opt: boolean | undefined): boolean {
    return opt ?? process.env.BUILD_CACHE !== '0';
}

function entryDir(rootDir: string, key: string): string {
    return path.join(rootDir, 'out', 'build-cache', key);
}

/** Copies a cached compile into `stagingDir`; false when there is none (or it vanished meanwhile). */
export function restoreCompile(rootDir: string, key: string, stagingDir: string): boolean {
    const dir = entryDir(rootDir, key);
    if (!fs.existsSync(path.join(dir, MARKER))) {
        return false;
    }
    try {
        fs.rmSync(stagingDir, { recursive: true, force: true });
        fs.cpSync(dir, stagingDir, { recursive: true });
        fs.rmSync(path.join(stagingDir, MARKER), { force: true });
        const now = new Date();
        fs.utimesSync(dir, now, now);
        return true;
    } catch {
        fs.rmSync(stagingDir, { recursive: true, force: true });
        return false;
    }
}

/** Stores a successful compile (the staging folder as the compiler left it). Never fails the build. */
export function storeCompile(rootDir: string, key: string, stagingDir: string): void {
    const dir = entryDir(rootDir, key);
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    try {
        fs.cpSync(stagingDir, tmp, { recursive: true });
        fs.writeFileSync(path.join(tmp, MARKER), key);
        fs.renameSync(tmp, dir);
    } catch {
        // another process stored the same key first, or the disk is full: compiling again is fine
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
    prune(path.dirname(dir));
}

function prune(cacheRoot: string): void {
    try {
        const entries = fs
            .readdirSync(cacheRoot, { withFileTypes: true })
            .filter((e) => e.isDirectory() && !e.name.includes('.tmp-'))
            .map((e) => ({ dir: path.join(cacheRoot, e.name), mtime: fs.statSync(path.join(cacheRoot, e.name)).mtimeMs }))
            .sort((a, b) => b.mtime - a.mtime);
        for (const old of entries.slice(KEEP)) {
            fs.rmSync(old.dir, { recursive: true, force: true });
        }
    } catch {
        // pruning is best effort
    }
}
