// The audio of a call in the browser, shared by the /chat page (the customer's voice call) and the
// agent workspace (the agent's call audio). A classic script, loaded from <hub>/chat/call-audio.js
// before either page's own script (so it falls under both pages' `script-src 'self'`); it defines
// `window.SwitchboardCallAudio` and nothing else.
//
// Both call sockets (`/chat/call`, `/api/v1/conversations/{id}/audio`) carry the audio as binary
// messages of 16-bit little-endian mono PCM at 8000 Hz, 20 ms (320 bytes) each way, and the hub's
// word as JSON text messages. A line takes the microphone into an AudioContext through the
// capture worklet next to this file (call-worklet.js), which hands over each 320-byte chunk, and
// plays the hub's frames back to back. The socket itself, what its JSON means and everything the
// page shows stay with the page: a line counts what it heard and sent, for the page's `data-*`.
//
//   const line = SwitchboardCallAudio.line({ unsupported, onChunk, onHeard });
//   const problem = await line.open(); // microphone, context, worklet; null, or why not
//   line.send(socket, chunk);          // from onChunk: true when sent (counted in line.sentMs)
//   line.receive(event.data);          // plays audio (then onHeard), or returns the hub's JSON
//   line.mute(true);                   // silence from now on (line.muted)
//   line.close(line.tailMs());         // let what is scheduled play out; safe to call again
(() => {
  'use strict';

  const RATE = 8000;
  const SAMPLES_PER_MS = RATE / 1000;
  // How far ahead of the playing position a frame from the hub is scheduled: enough to ride out
  // network jitter; a frame that would land further ahead than the limit is dropped instead, so
  // the speaker never lags behind the hub by more than that.
  const PLAY_LEAD_S = 0.05;
  const PLAY_AHEAD_MAX_S = 0.5;
  // Microphone audio still unsent on a stalled socket (in bytes: half a second) after which
  // chunks are dropped: late speech is worse than lost speech on a call.
  const SEND_BACKLOG_MAX = 0.5 * RATE * 2;
  // Beside this script, whichever page loaded it.
  const WORKLET = new URL('call-worklet.js', document.currentScript.src);

  // What to tell the user about an error opening the audio (by the name getUserMedia rejects with).
  function problem(error) {
    switch (error && error.name) {
      case 'NotAllowedError':
      case 'SecurityError':
        return 'the microphone was not allowed';
      case 'NotFoundError':
      case 'OverconstrainedError':
        return 'no microphone was found';
      case 'NotReadableError':
        return 'the microphone is in use by another application';
      case 'Unsupported':
        return error.message;
      default:
        return 'the call audio could not start';
    }
  }

  function newAudioContext(rate) {
    try {
      return new AudioContext(rate ? { sampleRate: rate } : undefined);
    } catch (e) {
      // A browser without 8 kHz contexts: the worklet resamples from the default rate.
      return new AudioContext();
    }
  }

  // One call's audio. Once closed (the page hung up or left while the browser was still asking for
  // the microphone, say), a pending `open()` stops and gives back whatever it got since.
  class Line {
    // `unsupported`: what `open` says in a browser (or on an insecure page) without what a call
    // needs; `onChunk(chunk)`: each 320-byte ArrayBuffer of the microphone, to `send`;
    // `onHeard(line)`: after each frame from the hub (heardMs and peak have grown).
    constructor({ unsupported, onChunk, onHeard = () => {}, worklet = WORKLET }) {
      this.unsupported = unsupported;
      this.onChunk = onChunk;
      this.onHeard = onHeard;
      this.worklet = worklet;
      this.closed = false;
      this.stream = null;
      this.context = null;
      this.capture = null;
      this.contextClosing = false;
      // When the last scheduled frame from the hub ends, in the AudioContext's time.
      this.next = 0;
      this.heardMs = 0;
      this.sentMs = 0;
      // The loudest sample heard, 0..32767.
      this.peak = 0;
      this.muted = false;
    }

    // Opens the microphone and the speaker: null once they run (or once the line was closed
    // meanwhile), otherwise what to tell the user ("the microphone was not allowed").
    async open() {
      try {
        await this.start();
        return null;
      } catch (e) {
        if (this.closed) return null;
        console.warn('call audio: the audio did not start:', e);
        return problem(e);
      }
    }

    async start() {
      if (!window.isSecureContext || !navigator.mediaDevices || !window.AudioWorkletNode) {
        const error = new Error(this.unsupported);
        error.name = 'Unsupported';
        throw error;
      }
      // Made while the click still counts as the user's gesture, so it may play sound.
      this.context = newAudioContext(RATE);
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      this.stream = stream;
      if (this.closed) {
        stream.getTracks().forEach(track => track.stop());
        return;
      }
      // A mute pressed while the browser was asking holds for the microphone too.
      this.mute(this.muted);
      try {
        await this.captureInto();
      } catch (e) {
        // Some browsers cannot connect a microphone to a context at another rate than its own.
        if (e.name !== 'NotSupportedError' || this.context.sampleRate !== RATE || this.closed) throw e;
        this.context.close().catch(() => {});
        this.context = newAudioContext();
        await this.captureInto();
      }
    }

    // Microphone → capture worklet → a muted gain → the speaker: the worklet posts the PCM chunks,
    // and the silent path to the destination makes sure the graph pulls it in every browser.
    async captureInto() {
      const context = this.context;
      await context.audioWorklet.addModule(this.worklet);
      if (this.closed) return;
      const microphone = context.createMediaStreamSource(this.stream);
      const capture = new AudioWorkletNode(context, 'switchboard-capture', {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: 1,
        channelCountMode: 'explicit',
        channelInterpretation: 'speakers',
      });
      capture.port.onmessage = event => this.onChunk(event.data);
      const silent = context.createGain();
      silent.gain.value = 0;
      microphone.connect(capture).connect(silent).connect(context.destination);
      this.capture = capture;
      // Not awaited: where autoplay is refused it never settles, and the call still works silently.
      context.resume().catch(() => {});
    }

    // Sends a microphone chunk on `socket` while it is open and keeping up; false when it did not.
    send(socket, chunk) {
      if (this.closed || !socket || socket.readyState !== WebSocket.OPEN) return false;
      if (socket.bufferedAmount > SEND_BACKLOG_MAX) return false;
      // Muted: silence rather than nothing, so the hub's clock (and its end-of-speech detection)
      // keeps running.
      if (this.muted) new Uint8Array(chunk).fill(0);
      socket.send(chunk);
      this.sentMs += chunk.byteLength / 2 / SAMPLES_PER_MS;
      return true;
    }

    // A message of the call's socket: audio is played (and null returned), text is the hub's JSON
    // message (null when it is not JSON).
    receive(data) {
      if (typeof data !== 'string') {
        this.play(data);
        return null;
      }
      try {
        return JSON.parse(data);
      } catch (e) {
        return null;
      }
    }

    // Plays a frame from the hub after the ones already scheduled. A dropped frame (too far
    // ahead) still counts as heard: it arrived.
    play(data) {
      const samples = data.byteLength >> 1;
      if (!samples) return;
      const context = this.context;
      const pcm = new DataView(data);
      const buffer = context.createBuffer(1, samples, RATE);
      const channel = buffer.getChannelData(0);
      let peak = this.peak;
      for (let i = 0; i < samples; i++) {
        const sample = pcm.getInt16(i * 2, true);
        channel[i] = sample / 32768;
        const loud = Math.min(32767, Math.abs(sample));
        if (loud > peak) peak = loud;
      }
      this.peak = peak;
      this.heardMs += samples / SAMPLES_PER_MS;
      this.onHeard(this);
      const now = context.currentTime;
      const at = Math.max(now + PLAY_LEAD_S, this.next);
      if (at - now > PLAY_AHEAD_MAX_S) return;
      const source = context.createBufferSource();
      source.buffer = buffer;
      source.connect(context.destination);
      source.start(at);
      this.next = at + buffer.duration;
    }

    mute(muted) {
      this.muted = muted;
      // The browser's own mute too, so its microphone indicator agrees.
      if (this.stream) this.stream.getAudioTracks().forEach(track => (track.enabled = !muted));
    }

    // How long what is already scheduled still plays (the hub's last words, a goodbye), in ms.
    tailMs() {
      return this.context ? Math.max(0, this.next - this.context.currentTime) * 1000 : 0;
    }

    // Stops the microphone at once, and the speaker after `lingerMs`.
    close(lingerMs = 0) {
      this.closed = true;
      if (this.stream) this.stream.getTracks().forEach(track => track.stop());
      if (this.capture) {
        this.capture.port.onmessage = null;
        this.capture.disconnect();
        this.capture = null;
      }
      const context = this.context;
      if (context && !this.contextClosing) {
        this.contextClosing = true;
        setTimeout(() => context.close().catch(() => {}), lingerMs);
      }
    }
  }

  window.SwitchboardCallAudio = Object.freeze({ line: options => new Line(options) });
})();
