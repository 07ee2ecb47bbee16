/*
 * Loaded before brs.api.js: keeps a reference to the engine's control buffer (remote keys,
 * debugger, media state: a SharedArrayBuffer of 1062 Int32 values in brs-engine 2.2.0) so the
 * host can tell when the app has taken a key (host.js). Every other buffer is left alone.
 */
/* global window */
(function () {
    const Original = window.SharedArrayBuffer;
    if (typeof Original !== 'function') {
        return;
    }
    const CONTROL_BYTES = 1062 * 4;
    function Capturing(length, options) {
        const buffer = options === undefined ? new Original(length) : new Original(length, options);
        if (length === CONTROL_BYTES && !window.__simControl) {
            window.__simControl = buffer;
        }
        return buffer;
    }
    Capturing.prototype = Original.prototype;
    Object.defineProperty(Capturing, Symbol.hasInstance, { value: (x) => x instanceof Original });
    window.SharedArrayBuffer = Capturing;
})();
