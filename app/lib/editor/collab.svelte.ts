/**
 * Live co-editing of a workflow draft: a Yjs document synced over y-websocket with `/api/collab/<id>`,
 * bound to the Monaco model by y-monaco, with awareness for names and cursors. The server keeps and saves
 * the draft; the client never seeds the text, it waits for the server's document (first sync).
 */
import { MonacoBinding } from 'y-monaco';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import type { editor } from 'monaco-editor';
import { peersOf, remoteCursorCss, type CollabUser, type Peer } from './remote-cursors';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline';

/** The shared text's name, as the server stores it. */
const TEXT_NAME = 'yaml';

export class CollabSession {
  state = $state<ConnectionState>('connecting');
  /** The server's document has arrived at least once; until then the editor must stay read-only. */
  synced = $state(false);
  peers = $state<Peer[]>([]);
  /** True while a co-editor's change (or the server's) is being applied to the model. */
  applyingRemote = false;

  readonly #doc = new Y.Doc();
  readonly #provider: WebsocketProvider;
  readonly #style = document.createElement('style');
  /** Made at the first sync, so the model starts from the server's text, never from ours. */
  #binding: MonacoBinding | undefined;
  readonly #onNetwork = (event: Event) => {
    // A socket that lived through a network loss may be half dead: reconnect (and resync) at once.
    if (event.type === 'online' && this.#provider.wsconnected) {
      this.#provider.disconnect();
      this.#provider.connect();
    }
    this.#updateState();
  };

  constructor(workflowId: string, user: CollabUser, model: editor.ITextModel, codeEditor: editor.IStandaloneCodeEditor) {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/collab`;
    this.#provider = new WebsocketProvider(url, workflowId, this.#doc);
    const awareness = this.#provider.awareness;
    awareness.setLocalStateField('user', user);
    awareness.on('change', () => {
      const peers = peersOf(awareness.getStates() as Map<number, Record<string, unknown>>, this.#doc.clientID);
      const css = remoteCursorCss(peers);
      if (css === this.#style.textContent) return;
      this.peers = peers;
      this.#style.textContent = css;
    });
    this.#provider.on('status', () => this.#updateState());
    this.#provider.on('sync', (isSynced: boolean) => {
      if (isSynced && !this.#binding) {
        // eslint-disable-next-line svelte/prefer-svelte-reactivity -- y-monaco's own editor set, not UI state
        this.#binding = new MonacoBinding(this.#doc.getText(TEXT_NAME), model, new Set([codeEditor]), awareness);
        this.synced = true;
      }
      this.#updateState();
    });
    this.#doc.on('beforeTransaction', (transaction: Y.Transaction) => (this.applyingRemote = !transaction.local));
    this.#doc.on('afterTransaction', () => (this.applyingRemote = false));
    document.head.append(this.#style);
    addEventListener('online', this.#onNetwork);
    addEventListener('offline', this.#onNetwork);
  }

  destroy(): void {
    removeEventListener('online', this.#onNetwork);
    removeEventListener('offline', this.#onNetwork);
    this.#binding?.destroy();
    this.#provider.destroy();
    this.#doc.destroy();
    this.#style.remove();
  }

  #updateState(): void {
    const provider = this.#provider;
    if (!navigator.onLine) this.state = 'offline';
    else if (provider.wsconnected && provider.synced) this.state = 'connected';
    else this.state = this.synced ? 'reconnecting' : 'connecting';
  }
}
