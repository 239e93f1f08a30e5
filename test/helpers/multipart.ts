import { randomUUID } from 'node:crypto';

/** A multipart/form-data body for `app.inject`: text fields plus one file. */
export function multipartBody(
  fields: Record<string, string>,
  file: { name?: string; filename: string; content: string | Buffer; contentType?: string },
): { payload: Buffer; headers: { 'content-type': string } } {
  const boundary = `----quanke${randomUUID().replaceAll('-', '')}`;
  const chunks: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  chunks.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${file.name ?? 'file'}"; filename="${file.filename}"\r\n` +
        `Content-Type: ${file.contentType ?? 'text/csv'}\r\n\r\n`,
    ),
  );
  chunks.push(Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content));
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
