/**
 * Builds the ropm package of the purchase flow: `dist/ropm/`, a folder other channels install with
 * `npx ropm install <path-to-this-repo>/dist/ropm` (docs/embedding.md).
 *
 * What it holds: the PurchaseFlow, PurchaseStore and CleengService components and the pure logic
 * under source/ (including generated code), compiled by bsc to BrightScript with `.d.bs` type
 * definitions, so ropm's prefixing (components `cleengpay_PurchaseFlow`, namespaces
 * `cleengpay.embed`) works on plain BrightScript. Never test code: no *.spec.*, no test
 * components (store emulator), no csFake fixtures, no main.bs or MainScene (the reference host).
 *
 * Why a folder with its own package.json: ropm refuses a package whose npm `dependencies` are not
 * ropm packages, and this repo's dependencies are the relay's (fastify, pino, …).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ensureGenerated } from '../contract/generate';
import { BuildError, runBsc } from './build';

export const ROPM_PACKAGE_NAME = 'cleengpay';

export interface RopmBuildOptions {
    /** Root of the project (default: this repo). */
    rootDir?: string;
    /** Where the package goes (default <rootDir>/dist/ropm). */
    outDir?: string;
}

export interface RopmBuildResult {
    dir: string;
    /** Files of the package, relative to `dir`, sorted. */
    files: string[];
    durationMs: number;
}

const repoRoot = path.resolve(__dirname, '..');

/** The sources that go into the package (bsc globs, relative to the project root). */
export const PACKAGE_FILES = [
    'manifest',
    'source/**/*.bs',
    '!source/main.bs',
    'components/**/*.{bs,xml}',
    '!components/MainScene/**/*',
    '!**/*.spec.*'
];

function listFiles(dir: string, rel = ''): string[] {
    const out: string[] = [];
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
        const relPath = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
            out.push(...listFiles(dir, relPath));
        } else {
            out.push(relPath);
        }
    }
    return out.sort();
}

/**
 * Renames each component's own script (components/X/X.brs -> X.component.brs, and its <script> tag),
 * so the package builds without a diagnostic in hosts with or without autoImportComponentScript
 * (with it, bsc calls an explicit tag for X.brs "unnecessary"; without it the tag is needed).
 */
function renameComponentScripts(outDir: string): void {
    for (const file of listFiles(outDir).filter((f) => f.startsWith('components/') && f.endsWith('.xml'))) {
        const base = file.slice(0, -'.xml'.length);
        const script = path.join(outDir, `${base}.brs`);
        if (!fs.existsSync(script)) {
            continue;
        }
        fs.renameSync(script, path.join(outDir, `${base}.component.brs`));
        const xmlPath = path.join(outDir, file);
        const xml = fs.readFileSync(xmlPath, 'utf8');
        const uri = `pkg:/${base}.brs"`;
        if (!xml.includes(uri)) {
            throw new BuildError(`ropm package: ${file} does not load ${base}.brs`, []);
        }
        fs.writeFileSync(xmlPath, xml.split(uri).join(`pkg:/${base}.component.brs"`));
    }
}

/** Folders whose .d.bs type definitions ship: the public API (embed) and the records it returns. */
export const PUBLIC_TYPEDEFS = ['source/embed/', 'source/records/'];

/**
 * Names ropm would break: a local variable, loop variable or parameter named like a function of
 * the package. ropm renames every use of such a name (package-wide, it cannot tell scopes apart)
 * but not the assignment, `for each x` or parameter that declares it.
 */
export function ropmNameClashes(dir: string, files: string[]): string[] {
    const functions = new Set<string>();
    const declared: { name: string; file: string }[] = [];
    for (const file of files.filter((f) => /\.(brs|d\.bs)$/.test(f))) {
        const text = fs.readFileSync(path.join(dir, file), 'utf8');
        for (const m of text.matchAll(/^\s*(?:function|sub)\s+([A-Za-z_][A-Za-z_0-9]*)/gim)) {
            functions.add(m[1].toLowerCase());
        }
        if (!file.endsWith('.brs')) {
            continue;
        }
        for (const m of text.matchAll(/for\s+each\s+([A-Za-z_][A-Za-z_0-9]*)\s+in\b/gi)) {
            declared.push({ name: m[1].toLowerCase(), file });
        }
        for (const m of text.matchAll(/^\s*([A-Za-z_][A-Za-z_0-9]*)\s*=[^=]/gm)) {
            declared.push({ name: m[1].toLowerCase(), file });
        }
        for (const m of text.matchAll(/\b(?:function|sub)\s*[A-Za-z_0-9]*\s*\(([^)]*)\)/gi)) {
            for (const param of m[1].split(',')) {
                const name = param.trim().split(/[\s=]/)[0];
                if (name) {
                    declared.push({ name: name.toLowerCase(), file });
                }
            }
        }
    }
    return declared.filter((d) => functions.has(d.name)).map((d) => `${d.file}: "${d.name}" is also a function name; ropm would rename its uses but not its declaration`);
}

/** Everything in a package folder that must not reach a host channel. */
export function checkRopmPackage(files: string[]): string[] {
    const problems: string[] = [];
    for (const file of files) {
        if (/\.spec\./i.test(file) || /rooibos/i.test(file)) {
            problems.push(`${file}: test code`);
        } else if (/(^|\/)csfake(\/|$)/i.test(file)) {
            problems.push(`${file}: csFake fixtures`);
        } else if (/StoreEmulator|(^|\/)test\//i.test(file)) {
            problems.push(`${file}: a test-only component`);
        } else if (/(^|\/)MainScene\//.test(file) || file === 'source/main.brs') {
            problems.push(`${file}: the reference host channel, not the flow`);
        } else if (!file.includes('/') && file !== 'package.json' && file !== 'README.md') {
            problems.push(`${file}: a top-level file (ropm copies only folders)`);
        }
    }
    return problems;
}

export async function buildRopmPackage(opts: RopmBuildOptions = {}): Promise<RopmBuildResult> {
    const started = Date.now();
    const rootDir = path.resolve(opts.rootDir ?? repoRoot);
    const outDir = path.resolve(opts.outDir ?? path.join(rootDir, 'dist', 'ropm'));
    fs.rmSync(outDir, { recursive: true, force: true });
    // The channel's copy of the contract (source/generated/Contract.bs) ships in the package.
    await ensureGenerated(rootDir);
    const diagnostics = await runBsc(
        {
            // The production config (bslint and its rules), with the package's own files and output.
            project: path.join(rootDir, 'bsconfig.json'),
            cwd: rootDir,
            rootDir,
            files: PACKAGE_FILES,
            stagingDir: outDir,
            emitDefinitions: true,
            autoImportComponentScript: true,
            sourceMap: false,
            copyToStaging: true
        },
        process.cwd()
    );
    if (diagnostics.length > 0) {
        throw new BuildError(`ropm package build failed: ${diagnostics.length} compiler/bslint problem(s)`, diagnostics);
    }
    // The manifest is only there so bsc validates as in a channel; a package has none.
    fs.rmSync(path.join(outDir, 'manifest'), { force: true });
    // Type definitions only for the public API. ropm takes every function named in a .d.bs as a
    // package function by its short name (`key` of cleeng.access) and prefixes every variable of
    // that name, but not loop variables or parameters: internal namespaces stay plain BrightScript.
    for (const file of listFiles(outDir)) {
        if (file.endsWith('.d.bs') && !PUBLIC_TYPEDEFS.some((dir) => file.startsWith(dir))) {
            fs.rmSync(path.join(outDir, file));
        }
    }
    renameComponentScripts(outDir);
    const rootPackage = JSON.parse(fs.readFileSync(path.join(rootDir, 'package.json'), 'utf8')) as { version: string; license?: string };
    const packageJson = {
        name: ROPM_PACKAGE_NAME,
        version: rootPackage.version,
        description: 'Cleeng subscriptions through Roku Pay: the embeddable purchase flow (PurchaseFlow), its store and Cleeng components. See docs/embedding.md.',
        license: rootPackage.license ?? 'MIT',
        keywords: ['ropm', 'roku', 'cleeng', 'roku-pay', 'subscriptions'],
        files: ['components/**/*', 'source/**/*']
    };
    fs.writeFileSync(path.join(outDir, 'package.json'), JSON.stringify(packageJson, null, 2) + '\n');
    fs.writeFileSync(
        path.join(outDir, 'README.md'),
        '# cleengpay\n\nThe Cleeng purchase flow for Roku channels, built from cleeng-roku-purchase. ' +
            'Install with `npx ropm install <path>`; embed `cleengpay_PurchaseFlow`. See docs/embedding.md in the source repository.\n'
    );
    const files = listFiles(outDir);
    const problems = [...checkRopmPackage(files), ...new Set(ropmNameClashes(outDir, files))];
    if (problems.length > 0) {
        throw new BuildError('ropm package refused: it contains things a host channel must not get', problems);
    }
    return { dir: outDir, files, durationMs: Date.now() - started };
}

if (require.main === module) {
    buildRopmPackage()
        .then((result) => {
            console.log(`ropm package OK in ${(result.durationMs / 1000).toFixed(1)} s: ${path.relative(process.cwd(), result.dir)} (${result.files.length} files)`);
            console.log(`install it in a channel with: npx ropm install ${result.dir}`);
        })
        .catch((err: Error) => {
            console.error(err.message);
            for (const d of (err as BuildError).diagnostics ?? []) {
                console.error(`  ${d}`);
            }
            process.exit(1);
        });
}
