/**
 * HTML answers in the style of a Roku's developer web server. Tools read three things from them:
 *  - `Shell.create('Roku.Message').trigger('Set message type', '<type>').trigger('Set message content', '<text>')`
 *  - `JSON.parse('{"messages":[…],"metadata":{…},"packages":[…]}')`
 *  - legacy `<font color="red">…</font>` status lines (Rekey, Package)
 */

export type MessageType = 'success' | 'info' | 'error';

export interface PageMessage {
    type: MessageType;
    text: string;
}

export interface PageOptions {
    title: string;
    messages: PageMessage[];
    /** Legacy status line, e.g. `Success.` or `Failed: Invalid Password.` */
    fontStatus?: string;
    /** Extra JSON fields (packages, pkgPath, metadata …). */
    json?: Record<string, unknown>;
    /** Extra HTML for the body (links, image). */
    body?: string;
}

export function escapeHtml(text: string): string {
    return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Text safe inside a single-quoted JS string that also holds JSON: no quotes of either kind, no backslashes. */
function jsSafe(text: string): string {
    return text.replace(/\\/g, '/').replace(/'/g, '\u2019').replace(/"/g, '\u201d').replace(/[\r\n]+/g, ' ');
}

export function renderPage(opts: PageOptions): string {
    const messages = opts.messages.map((m) => ({ text: jsSafe(m.text), text_type: 'text', type: m.type }));
    const json = JSON.stringify({ messages, ...(opts.json ?? {}) }).replace(/'/g, '\\u0027');
    const shell = opts.messages
        .map((m) => `    Shell.create('Roku.Message').trigger('Set message type', '${m.type}').trigger('Set message content', '${jsSafe(m.text)}').trigger('Render', node);`)
        .join('\n');
    return [
        '<!DOCTYPE html>',
        '<html>',
        '<head>',
        '  <meta charset="utf-8">',
        `  <title>Roku Development Kit: ${escapeHtml(opts.title)}</title>`,
        '</head>',
        '<body>',
        `  <h1>${escapeHtml(opts.title)}</h1>`,
        opts.fontStatus !== undefined ? `  <font color="red">${escapeHtml(opts.fontStatus)}</font>` : '',
        opts.body ?? '',
        '  <div id="root"></div>',
        '  <script type="text/javascript">',
        '    var node = document.getElementById("root");',
        `    var params = JSON.parse('${json}');`,
        shell,
        '  </script>',
        '</body>',
        '</html>',
        ''
    ]
        .filter((line) => line !== '')
        .join('\n');
}

export function renderUnauthorized(): string {
    return '<html><head><title>401 Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>\n';
}

export function renderNotFound(): string {
    return '<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>\n';
}
