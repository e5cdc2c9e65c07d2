/* Sign up and log in (the two forms), log out, and which of the page's two halves shows. */

import { $, show } from '../dom.js';

/** Full names and new passwords, wherever the page asks for them, sized by the server's limits. */
export function sizeAccountInputs(limits) {
  if (!limits.fullNameMax) return;
  for (const input of document.querySelectorAll('input[name=fullName]')) input.maxLength = limits.fullNameMax;
  for (const input of document.querySelectorAll('#signup-form input[name=password], input[name=newPassword]')) {
    input.minLength = limits.passwordMin;
  }
}

export function authView(app) {
  const { store, actions } = app;
  let shownMode = null;

  async function submit(event, path) {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector('button[type=submit]');
    const errorLine = form.querySelector('.form-error');
    errorLine.textContent = '';
    button.disabled = true;
    const error = await actions.signIn(path, Object.fromEntries(new FormData(form)));
    button.disabled = false;
    if (error) errorLine.textContent = error;
    else form.reset();
  }

  $('#tab-login').addEventListener('click', () => actions.setAuthMode('login'));
  $('#tab-signup').addEventListener('click', () => actions.setAuthMode('signup'));
  $('#login-form').addEventListener('submit', (e) => submit(e, '/api/auth/login'));
  $('#signup-form').addEventListener('submit', (e) => submit(e, '/api/auth/signup'));
  $('#logout').addEventListener('click', () => actions.logOut());

  return function render(s) {
    sizeAccountInputs(s.limits);
    const signedOut = s.booted && !s.me;
    show($('#app-view'), Boolean(s.me));
    show($('#auth-view'), signedOut);
    const mode = signedOut ? s.authMode : null;
    if (mode === shownMode) return;
    shownMode = mode;
    if (!mode) return;
    const signup = mode === 'signup';
    $('#tab-login').setAttribute('aria-selected', String(!signup));
    $('#tab-signup').setAttribute('aria-selected', String(signup));
    show($('#login-form'), !signup);
    show($('#signup-form'), signup);
    (signup ? $('#signup-form') : $('#login-form')).querySelector('input').focus();
  };
}
