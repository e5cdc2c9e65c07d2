/*
 * My account: the profile and settings dialog (name, picture, password) and the people I blocked.
 */

import { describeError } from '../format.js';
import * as model from '../model.js';

export function accountActions(app) {
  const { store, api } = app;
  const act = () => app.actions;
  const update = (fn) => store.update(fn);

  function openProfile() {
    update((s) => {
      s.profileOpen = true;
      s.blockedList = null;
    });
    loadBlockedList();
  }

  function closeProfile() {
    if (store.state.profileOpen) update((s) => {
      s.profileOpen = false;
    });
  }

  async function loadBlockedList() {
    try {
      const blocked = await api.get('/api/users/blocked');
      update((s) => {
        s.blocked = new Set(blocked.map((u) => u._id));
        s.blockedList = blocked;
      });
    } catch (error) {
      act().toast(describeError(error));
    }
  }

  /** Resolves to an error sentence, or null when saved. */
  async function saveProfile(fullName, picture) {
    const body = new FormData();
    body.append('fullName', fullName);
    if (picture) body.append('profilePic', picture, picture.name);
    try {
      const { body: me } = await api.request('PUT', '/api/auth/update-profile', { form: body });
      update((s) => {
        s.me = me;
      });
      act().toast('Profile saved.');
      return null;
    } catch (error) {
      return describeError(error);
    }
  }

  /** Resolves to an error sentence, or null when changed. */
  async function changePassword(fields) {
    try {
      // The answer sets the new token as the cookie; every older token (this socket's too) stops working.
      await api.request('PUT', '/api/auth/change-password', { json: fields });
      if (app.socket) app.socket.reconnect(); // signs in again with the new cookie
      act().toast('Password changed.');
      return null;
    } catch (error) {
      return describeError(error);
    }
  }

  async function unblock(user) {
    try {
      const { blockedUsers } = await api.post(`/api/users/unblock/${user._id}`);
      update((s) => {
        s.blocked = new Set(blockedUsers);
        model.setBlocked(s, user._id, false);
      });
      act().toast(`${user.fullName} is unblocked.`);
    } catch (error) {
      act().toast(describeError(error));
    }
    await loadBlockedList();
  }

  return { openProfile, closeProfile, saveProfile, changePassword, unblock };
}
