import type { editor } from 'monaco-editor';
import { tryActivate } from '$lib/api/try-activate';
import type { BuildResult, User } from '$lib/api/types';
import { tryActivateWorkflow } from '$lib/api/workflows';
import { Checker } from './checker.svelte';
import type { CollabSession } from './collab.svelte';
import type { EditorKit } from './load';
import { setQuickFixes } from './completions';
import { SERVER_MARKER_OWNER, toMarkers } from './markers';
import { colorFor } from './remote-cursors';

/**
 * The editor page's live state: the draft model, its co-editing session, and two server checks of the
 * text: the build's diagnostics (shown as markers) and the change summary against the published version.
 */
export class Workbench {
  /** A lone local edit is built at once (fastest feedback); a burst of typing 150 ms after it ends. */
  readonly check: Checker;
  /** Builds the draft and the published version and diffs them: costlier, so only after a pause. */
  readonly changes: Checker;
  /** The model's version id, which changes with every edit (local or remote). */
  version = $state(0);
  cursor = $state({ line: 1, column: 1 });
  collab = $state<CollabSession>();
  #editor: editor.IStandaloneCodeEditor | undefined;
  readonly #disposables: Array<{ dispose(): void }> = [];

  constructor(
    private readonly kit: EditorKit,
    private readonly workflowId: string,
    readonly model: editor.ITextModel,
    /** Whether a version is published (a change summary needs one). */
    private readonly published: () => boolean,
  ) {
    this.check = new Checker((yaml, signal) => tryActivate(yaml, signal), {
      debounceMs: 150,
      leading: true,
      onResult: (result) => this.#showDiagnostics(result),
    });
    this.changes = new Checker((yaml, signal) => tryActivateWorkflow(workflowId, yaml, signal), { debounceMs: 700, leading: false });
    this.#disposables.push(model.onDidChangeContent(() => this.#edited()));
  }

  /** Starts editing in `codeEditor`; editors co-edit the draft, viewers get `showDraft`. */
  attach(codeEditor: editor.IStandaloneCodeEditor, user: User, canEdit: boolean): void {
    this.#editor = codeEditor;
    this.#disposables.push(codeEditor.onDidChangeCursorPosition(({ position }) => (this.cursor = { line: position.lineNumber, column: position.column })));
    if (canEdit) this.collab = new this.kit.CollabSession(this.workflowId, { name: user.name || user.email, color: colorFor(user.id) }, this.model, codeEditor);
  }

  /** Viewers do not co-edit: their read-only copy follows the saved draft instead. */
  showDraft(yaml: string): void {
    if (!this.collab && yaml !== this.model.getValue()) this.model.setValue(yaml);
  }

  text(): string {
    return this.model.getValue();
  }

  /** Ctrl+S: build the text now, diagnostics and change summary both. */
  checkNow(): void {
    this.check.now(this.text(), this.version);
    this.refreshChanges();
  }

  /** The change summary against the published version, now (for example after a publish). */
  refreshChanges(): void {
    if (this.published()) this.changes.now(this.text(), this.version);
  }

  /** Puts the cursor at a (1-based) line and column and focuses the editor. */
  reveal(line: number, column = 1): void {
    if (!this.#editor) return;
    this.#editor.setPosition({ lineNumber: line, column });
    this.#editor.revealLineInCenterIfOutsideViewport(line);
    this.#editor.focus();
  }

  destroy(): void {
    this.check.stop();
    this.changes.stop();
    this.collab?.destroy();
    for (const disposable of this.#disposables) disposable.dispose();
    this.model.dispose();
  }

  #edited(): void {
    this.version = this.model.getVersionId();
    const yaml = this.model.getValue();
    // Co-editors' keystrokes are checked eagerly by their own pages; here they wait for a pause in typing.
    this.check.edited(yaml, this.version, !this.collab?.applyingRemote);
    if (this.published()) this.changes.edited(yaml, this.version);
  }

  #showDiagnostics(result: BuildResult): void {
    const { monaco } = this.kit;
    const markers = toMarkers(result.diagnostics, this.model, monaco.MarkerSeverity);
    monaco.editor.setModelMarkers(this.model, SERVER_MARKER_OWNER, markers);
    setQuickFixes(
      this.model,
      result.diagnostics.flatMap((d, i) =>
        d.fix ? [{ range: markers[i]!, message: d.message, fix: { title: `Change to "${d.fix.replace}"`, replacement: d.fix.replace } }] : [],
      ),
    );
  }
}
