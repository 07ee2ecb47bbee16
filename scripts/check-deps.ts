/**
 * Import rules (the `deps` step of `npm test`):
 *   - TypeScript: dependency-cruiser with the repo's .dependency-cruiser.cjs (test doubles depend only
 *     on contract/, the relay never imports doubles/tests/tooling, the production build never loads
 *     the simulator or playwright-core);
 *   - BrightScript test doubles (dependency-cruiser does not read BrightScript): their `import`
 *     statements and component `<script uri>`s stay in their own folder or the generated contract.
 *
 *   npx ts-node scripts/check-deps.ts        prints violations, exits 1 if any
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(__dirname, '..');

/** Folders dependency-cruiser looks at (those that exist). */
export const CRUISED = ['contract', 'scripts', 'relay', 'emulators', 'test', 'bench'];

/** BrightScript test doubles: each may use only its own folder and the generated contract. */
export const BRIGHTSCRIPT_DOUBLES = ['test/components/StoreEmulator'];
const BRIGHTSCRIPT_ALLOWED = ['pkg:/source/generated/'];

export interface CruiseResult {
    ok: boolean;
    output: string;
}

/** Runs dependency-cruiser in `cwd` (default the repo) with the repo's rules. */
export function cruise(cwd = root, dirs = CRUISED): Promise<CruiseResult> {
    const present = dirs.filter((d) => fs.existsSync(path.join(cwd, d)));
    const bin = path.join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [bin, '--config', path.join(root, '.dependency-cruiser.cjs'), '--output-type', 'err', ...present], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (c: Buffer) => (output += c.toString()));
        child.stderr.on('data', (c: Buffer) => (output += c.toString()));
        child.on('close', (code) => resolve({ ok: code === 0, output }));
        child.on('error', (e) => resolve({ ok: false, output: e.message }));
    });
}

/** `pkg:/…` path a BrightScript import or script uri points at, from the file that holds it. */
function pkgPath(ref: string, fromPkgDir: string): string {
    if (ref.startsWith('pkg:/')) {
        return path.posix.normalize(ref);
    }
    return 'pkg:/' + path.posix.normalize(path.posix.join(fromPkgDir.replace(/^pkg:\//, ''), ref));
}

/**
 * Violations in BrightScript doubles: each `import "…"` (BrighterScript) and `<script uri="…">`
 * (component XML) that leaves the double's folder other than for the generated contract.
 * Packaged, `test/components/X/` is `pkg:/components/X/`.
 */
export function checkBrightScriptDoubles(base = root, doubles = BRIGHTSCRIPT_DOUBLES): string[] {
    const problems: string[] = [];
    for (const dir of doubles) {
        const abs = path.join(base, dir);
        if (!fs.existsSync(abs)) {
            continue;
        }
        const ownPkg = 'pkg:/components/' + path.basename(dir) + '/';
        for (const name of fs.readdirSync(abs)) {
            if (!/\.(bs|brs|xml)$/.test(name) || /\.spec\./.test(name)) {
                continue;
            }
            const text = fs.readFileSync(path.join(abs, name), 'utf8');
            const refs = [...text.matchAll(/^\s*import\s+"([^"]+)"/gm), ...text.matchAll(/<script\b[^>]*\buri\s*=\s*"([^"]+)"/g)].map((m) => m[1]!);
            for (const ref of refs) {
                const target = pkgPath(ref, ownPkg);
                if (!target.startsWith(ownPkg) && !BRIGHTSCRIPT_ALLOWED.some((a) => target.startsWith(a))) {
                    problems.push(`${dir}/${name}: a test double uses ${ref} (only its own folder and ${BRIGHTSCRIPT_ALLOWED.join(', ')} are allowed)`);
                }
            }
        }
    }
    return problems;
}

export async function checkDeps(log: (text: string) => void = (t) => console.log(t)): Promise<boolean> {
    const c = await cruise();
    log(c.output.trim());
    const bs = checkBrightScriptDoubles();
    for (const p of bs) {
        log(`error test-double-only-contract (BrightScript): ${p}`);
    }
    if (bs.length === 0) {
        log(`BrightScript test doubles: ${BRIGHTSCRIPT_DOUBLES.join(', ')} use only their own folder and the generated contract`);
    }
    return c.ok && bs.length === 0;
}

if (require.main === module) {
    checkDeps().then((ok) => process.exit(ok ? 0 : 1));
}
