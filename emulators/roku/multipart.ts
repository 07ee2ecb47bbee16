/**
 * A small multipart/form-data (and urlencoded) body parser: enough for the forms the Roku developer
 * web server accepts (a few text fields and one file).
 */

export interface FormFile {
    filename: string;
    contentType?: string;
    data: Buffer;
}

export interface FormData {
    fields: Record<string, string>;
    files: Record<string, FormFile>;
}

export class FormParseError extends Error {}

/** Parses a request body by its Content-Type. An empty body gives empty fields. */
export function parseForm(contentType: string | undefined, body: Buffer): FormData {
    const result: FormData = { fields: {}, files: {} };
    if (body.length === 0) {
        return result;
    }
    const type = (contentType ?? '').toLowerCase();
    if (type.startsWith('application/x-www-form-urlencoded')) {
        for (const [k, v] of new URLSearchParams(body.toString('utf8'))) {
            result.fields[k] = v;
        }
        return result;
    }
    if (!type.startsWith('multipart/form-data')) {
        throw new FormParseError(`unsupported Content-Type ${contentType ?? '(none)'}`);
    }
    const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
    if (!m) {
        throw new FormParseError('multipart body without a boundary');
    }
    const boundary = Buffer.from('--' + (m[1] ?? m[2]));
    let pos = body.indexOf(boundary);
    if (pos < 0) {
        throw new FormParseError('multipart boundary not found in the body');
    }
    for (;;) {
        pos += boundary.length;
        // `--` after a boundary ends the body.
        if (body[pos] === 0x2d && body[pos + 1] === 0x2d) {
            break;
        }
        if (body[pos] === 0x0d && body[pos + 1] === 0x0a) {
            pos += 2;
        }
        const headerEnd = body.indexOf('\r\n\r\n', pos);
        if (headerEnd < 0) {
            throw new FormParseError('malformed multipart part (no header end)');
        }
        const headers = body.subarray(pos, headerEnd).toString('utf8').split('\r\n');
        const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), boundary]), headerEnd + 4);
        if (next < 0) {
            throw new FormParseError('malformed multipart body (no closing boundary)');
        }
        const data = body.subarray(headerEnd + 4, next);
        let name: string | undefined;
        let filename: string | undefined;
        let partType: string | undefined;
        for (const h of headers) {
            const colon = h.indexOf(':');
            if (colon < 0) {
                continue;
            }
            const key = h.slice(0, colon).trim().toLowerCase();
            const value = h.slice(colon + 1).trim();
            if (key === 'content-disposition') {
                name = /\bname="([^"]*)"/i.exec(value)?.[1] ?? /\bname=([^;\s]+)/i.exec(value)?.[1];
                filename = /\bfilename="([^"]*)"/i.exec(value)?.[1] ?? /\bfilename=([^;\s]+)/i.exec(value)?.[1];
            } else if (key === 'content-type') {
                partType = value;
            }
        }
        if (name !== undefined) {
            if (filename !== undefined) {
                result.files[name] = { filename, contentType: partType, data: Buffer.from(data) };
            } else {
                result.fields[name] = data.toString('utf8');
            }
        }
        pos = next + 2;
    }
    return result;
}
