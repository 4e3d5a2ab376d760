// monaco-yaml's language service, bundled by Vite as a worker of its own (`?worker` import in monaco.ts).
import 'monaco-yaml/yaml.worker.js';
