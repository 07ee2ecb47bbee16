import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';

/** Where to look for a Chromium, in order. CHROMIUM_PATH always wins. */
export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', 'chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

export class ChromiumNotFoundError extends Error {}

function resolveOnPath(name: string): string | undefined {
    if (name.startsWith('/')) {
        return fs.existsSync(name) ? name : undefined;
    }
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    const out = found.stdout.trim();
    return found.status === 0 && out ? out : undefined;
}

function isDebianLike(): boolean {
    try {
        const release = fs.readFileSync('/etc/os-release', 'utf8');
        return /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(release);
    } catch {
        return false;
    }
}

/**
 * Finds a Chromium binary. When none is found and we are root on Debian/Ubuntu, installs
 * Debian's `chromium` package with apt-get; never downloads a browser from anywhere else.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = (l) => console.error(l)): string {
    const explicit = env.CHROMIUM_PATH;
    if (explicit) {
        if (!fs.existsSync(explicit)) {
            throw new ChromiumNotFoundError(`CHROMIUM_PATH is set to ${explicit}, but no file is there.`);
        }
        return explicit;
    }
    for (const candidate of CHROMIUM_CANDIDATES) {
        const found = resolveOnPath(candidate);
        if (found) {
            return found;
        }
    }
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    if (isRoot && isDebianLike() && env.CHROMIUM_NO_INSTALL !== '1') {
        log('Chromium not found: installing Debian\'s chromium package with apt-get (set CHROMIUM_PATH to use another browser)…');
        execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
        execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
        const found = resolveOnPath('/usr/bin/chromium') ?? resolveOnPath('chromium');
        if (found) {
            return found;
        }
    }
    throw new ChromiumNotFoundError(
        'Chromium not found. Install it with `sudo apt-get install -y chromium` (Debian/Ubuntu) or set CHROMIUM_PATH to a Chromium or Chrome binary.'
    );
}

/** Flags for a quiet headless Chromium on a machine with no outside network. */
export function chromiumArgs(opts: { disableWebSecurity?: boolean } = {}): string[] {
    const args = [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--mute-audio',
        // Several runs share one browser, each in its own page: none of them is "in the background".
        '--disable-background-timer-throttling',
        '--disable-renderer-backgrounding',
        '--disable-backgrounding-occluded-windows',
        '--autoplay-policy=no-user-gesture-required'
    ];
    if (opts.disableWebSecurity) {
        args.push('--disable-web-security');
    }
    return args;
}
