/**
 * The one entry to undici, imported lazily by http.ts. A static re-export lets the bundler resolve
 * undici's CommonJS exports by name (a dynamic `import('undici')` of the CommonJS module would not).
 */
export { request } from 'undici';
