/* Host page for the simulator: loads the channel zip into brs-engine and reports to the runner. */
/* global brs */
(function () {
    const config = window.__simConfig || { interactive: true };
    const report = (kind, data) => {
        if (typeof window.__simEvent === 'function') {
            window.__simEvent(kind, data);
        } else if (config.interactive) {
            // npm start: hand console lines to the server that serves this page, which prints them.
            fetch('__event', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ kind: kind, data: data }) }).catch(() => undefined);
        }
    };
    // The engine's control buffer (captured by capture.js): key slots hold -1 once the app took them.
    const keySlots = () => (window.__simControl ? new Int32Array(window.__simControl) : undefined);
    const KEY_SLOTS = [25, 28, 31, 34, 37];
    const keysTaken = (ceilingMs = 30000) =>
        new Promise((resolve) => {
            const view = keySlots();
            const started = Date.now();
            const check = () => {
                if (KEY_SLOTS.every((i) => Atomics.load(view, i) < 0) || Date.now() - started > ceilingMs) {
                    resolve();
                } else {
                    setTimeout(check, 5);
                }
            };
            check();
        });
    const toObject = (map) => {
        const out = {};
        if (map && typeof map.forEach === 'function') {
            map.forEach((value, key) => { out[key] = value; });
        }
        return out;
    };
    brs.subscribe('sim-host', (event, data) => {
        if (event === 'debug') {
            if (data && typeof data === 'object') {
                report('debug', { level: String(data.level || ''), content: String(data.content ?? '') });
            } else {
                report('debug', { level: 'print', content: String(data) });
            }
        } else if (event === 'closed' || event === 'error') {
            report('closed', { event: event, reason: String(data) });
        } else if (event === 'registry') {
            report('registry', toObject(data));
        } else if (event === 'started' || event === 'loaded' || event === 'launch') {
            report(event, {});
        }
    });
    async function boot() {
        const [assets, app] = await Promise.all([
            fetch('assets/common.zip').then((r) => r.arrayBuffer()),
            fetch('app.zip').then((r) => r.arrayBuffer())
        ]);
        for (const [key, value] of Object.entries(config.registry || {})) {
            localStorage.setItem(key, value);
        }
        await brs.initialize(
            {
                developerId: config.developerId || 'dev',
                locale: config.locale || 'en_US',
                displayMode: '1080p',
                assets: assets,
                extensions: new Map([[brs.SupportedExtension.SceneGraph, './brs-sg.js']])
            },
            { disableKeys: !config.interactive, debugToConsole: !!config.interactive, showStats: false }
        );
        const params = new Map(Object.entries(config.launchParams || {}));
        brs.execute('app.zip', app, { entryPoint: true, debugOnCrash: false, muteSound: true, clearDisplayOnExit: false }, params);
        report('booted', {});
    }
    // ECP keypress is a down and an up. brs-engine hands keys to the app through 5 slots of a
    // shared buffer and drops the oldest when all are taken, so a busy engine could lose keys
    // sent in a row. A press therefore waits until the engine has taken the key down before the
    // key up, and until it has taken both before it resolves (the runner awaits each press).
    window.__simPress = async (key) => {
        if (!keySlots()) {
            brs.sendKeyPress(key, 100);
            return false;
        }
        await keysTaken();
        brs.sendKeyDown(key);
        await keysTaken();
        brs.sendKeyUp(key);
        await keysTaken();
        return true;
    };
    // ECP input (POST /input?contentId=…): reaches the channel as an roInputEvent.
    window.__simInput = (params) => brs.sendInput(params);
    boot().catch((err) => report('host-error', String(err && err.stack || err)));
})();
