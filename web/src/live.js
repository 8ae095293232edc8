// The live feed over WebSocket (GET /api/v1/ws): credentials in the first message (browsers
// cannot set headers on a WebSocket), one subscription to the map's area, resume after a drop.

import { auth, feedUrl, me } from './api.js';

export function startFeed({ bbox, onEvent, onStatus, onResync }) {
  let socket = null;
  let lastEventId = null;
  let retry = 500;
  let stopped = false;

  const connect = () => {
    if (stopped) return;
    onStatus('Live feed: connecting…');
    const ws = new WebSocket(feedUrl());
    socket = ws;
    ws.onopen = () => {
      retry = 500;
      if (auth.token) ws.send(JSON.stringify({ type: 'auth', token: auth.token }));
      ws.send(JSON.stringify({ type: 'subscribe', id: 'map', bbox }));
      if (lastEventId) ws.send(JSON.stringify({ type: 'resume', last_event_id: lastEventId }));
    };
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      switch (message.type) {
        case 'welcome':
          if (!lastEventId) lastEventId = message.last_event_id;
          break;
        case 'subscribed':
          onStatus(`Live feed: on${auth.signedIn ? '' : ' (public view)'}`);
          document.body.dataset.live = 'on';
          break;
        case 'resync':
          lastEventId = message.last_event_id;
          onResync();
          break;
        case 'error':
          onStatus(`Live feed: ${message.message}`);
          break;
        default:
          if (message.id && message.data) {
            lastEventId = message.id;
            onEvent(message);
          }
      }
    };
    ws.onclose = async (event) => {
      if (socket !== ws) return;
      document.body.dataset.live = 'off';
      onStatus('Live feed: reconnecting…');
      // 4401: the credentials expired; reading who we are refreshes the token first.
      if (event.code === 4401) await me();
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    };
  };
  connect();

  return {
    restart() {
      const old = socket;
      socket = null;
      old?.close();
      connect();
    },
    stop() {
      stopped = true;
      socket?.close();
    },
  };
}
