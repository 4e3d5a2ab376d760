/** Starting points for a new workflow. Each one builds (POST /api/try-activate answers build_ok). */
export interface WorkflowTemplate {
  id: string;
  title: string;
  description: string;
  /** The YAML for a workflow called `name`. */
  yaml(name: string): string;
}

export const templates: WorkflowTemplate[] = [
  {
    id: 'blank',
    title: 'Blank',
    description: 'One manual pipeline with a single log step.',
    yaml: (name) => `name: ${name}
version: "1.0"
pipelines:
  main:
    trigger: { type: manual }
    steps:
      - name: hello
        type: step.log
        config:
          message: "hello from {{ .meta.workflow }}"
`,
  },
  {
    id: 'shell-build',
    title: 'Shell build',
    description: 'Test and build in a container on a Linux runner, keep dist/ as an artifact.',
    yaml: (name) => `name: ${name}
version: "1.0"
description: Test, then build a small site and keep it as an artifact.
pipelines:
  build:
    trigger: { type: manual }
    runs_on: [linux]
    timeout: 10m
    steps:
      - name: test
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands:
            - echo "testing run {{ .meta.run_number }}"
          timeout: 120s
      - name: site
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands:
            - mkdir -p dist
            - echo "<h1>built by Flowyard</h1>" > dist/index.html
          artifacts_out:
            - { key: site, path: /workspace/dist }
`,
  },
  {
    id: 'gated-release',
    title: 'Gated release',
    description: 'Build, wait for an admin to approve, then announce the release.',
    yaml: (name) => `name: ${name}
version: "1.0"
description: Nothing is released until an admin approves.
pipelines:
  release:
    trigger: { type: manual }
    runs_on: [linux]
    inputs:
      tag:
        type: string
        default: v1.0.0
        description: Tag to release.
    steps:
      - name: build
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands:
            - echo "building {{ .Inputs.tag }}"
      - name: approval
        type: step.gate
        config:
          type: manual
          approvers: [role:admin]
          timeout: 24h
          message: "Release {{ .Inputs.tag }}?"
      - name: announce
        type: step.log
        config:
          message: "released {{ .Inputs.tag }}"
`,
  },
  {
    id: 'nightly',
    title: 'Nightly check',
    description: 'A scheduled pipeline that runs every night at 03:00 UTC.',
    yaml: (name) => `name: ${name}
version: "1.0"
pipelines:
  nightly:
    trigger:
      type: schedule
      config:
        cron: "0 3 * * *"
        timezone: UTC
    runs_on: [linux]
    steps:
      - name: check
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands:
            - date
            - echo "nightly check passed"
`,
  },
];
