/*
 * The composer: the text box (Enter sends, Shift+Enter a new line, arrow-up edits my last message,
 * Escape cancels a reply or an edit), chosen files, and what the next send answers or edits.
 */

import { $, h, icon, setChildren, show } from '../dom.js';
import { formatSize } from '../format.js';
import * as model from '../model.js';

const MAX_INPUT_PX = 160;

export function composerView(app) {
  const { store, actions } = app;
  const input = $('#message-input');
  let shown = { peerId: null, editing: null, replyTo: null, attachments: null, limits: null };

  function autoGrow() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, MAX_INPUT_PX)}px`;
  }

  $('#composer').addEventListener('submit', (event) => {
    event.preventDefault();
    const s = store.state;
    const text = input.value.trim();
    if (!s.editing) {
      if (!s.peerId || (!text && s.attachments.length === 0)) return;
      input.value = '';
      autoGrow();
    }
    actions.send(text);
  });
  input.addEventListener('input', () => {
    autoGrow();
    actions.composerInput();
  });
  input.addEventListener('keydown', (e) => {
    const s = store.state;
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('#composer').requestSubmit();
    } else if (e.key === 'ArrowUp' && !input.value && !s.editing) {
      if (actions.startEdit()) e.preventDefault();
    } else if (e.key === 'Escape' && (s.editing || s.replyTo)) {
      actions.cancelComposerContext();
    }
  });
  $('#composer-context-cancel').addEventListener('click', () => actions.cancelComposerContext());
  $('#file-input').addEventListener('change', (e) => {
    actions.addAttachments([...e.target.files]);
    e.target.value = '';
    input.focus();
  });

  function renderContext(s) {
    const target = s.editing || s.replyTo;
    show($('#composer-context'), Boolean(target));
    if (!target) return;
    const preview = target.text ? { text: target.text } : model.previewOf(s, target);
    setChildren(
      $('#composer-context-text'),
      s.editing ? h('strong', {}, 'Editing: ') : h('strong', {}, `Replying to ${model.memberName(s, target.senderId)}: `),
      preview.icon && icon(preview.icon),
      preview.text.slice(0, s.limits.replyPreviewChars),
    );
  }

  function renderAttachments(s) {
    setChildren(
      $('#attachments'),
      ...s.attachments.map((file, index) =>
        h(
          'li',
          { class: 'chip' },
          icon(model.IMAGE_TYPES.has(file.type) ? 'photo' : 'file'),
          `${file.name} (${formatSize(file.size)})`,
          h('button', { type: 'button', class: 'chip-remove', 'aria-label': `Remove ${file.name}`, onclick: () => actions.removeAttachment(index) }, '×'),
        ),
      ),
    );
  }

  return function render(s) {
    if (s.limits !== shown.limits) {
      // Sized from this server's limits (GET /api/limits), never a copy of them.
      if (s.limits.messageTextMax) input.maxLength = s.limits.messageTextMax;
      if (s.limits.searchQueryMax) $('#search-input').maxLength = s.limits.searchQueryMax;
    }
    if (s.peerId !== shown.peerId) {
      input.value = '';
      autoGrow();
      if (s.peerId) input.focus();
    }
    if (s.editing !== shown.editing) {
      // An edit puts the message's text in the box; its end (saved or cancelled) empties it.
      input.value = s.editing ? s.editing.text || '' : shown.editing && s.peerId === shown.peerId ? '' : input.value;
      autoGrow();
      if (s.editing) input.focus();
    }
    if (s.replyTo !== shown.replyTo && s.replyTo) input.focus();
    if (s.editing !== shown.editing || s.replyTo !== shown.replyTo) renderContext(s);
    if (s.attachments !== shown.attachments) renderAttachments(s);
    shown = { peerId: s.peerId, editing: s.editing, replyTo: s.replyTo, attachments: s.attachments, limits: s.limits };
  };
}
