/** Monaco's core with its standalone contributions but no bundled languages; the API is editor.api's. */
declare module 'monaco-editor/esm/vs/editor/edcore.main.js' {
  export * from 'monaco-editor';
}
declare module 'monaco-editor/esm/vs/basic-languages/yaml/yaml.contribution.js';
