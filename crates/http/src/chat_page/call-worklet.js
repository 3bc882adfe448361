// The /chat page's microphone capture for a voice call, as an AudioWorklet module (loaded from
// <hub>/chat/call-worklet.js by call-audio.js, so it falls under the page's `script-src 'self'`).
//
// The hub takes 16-bit little-endian mono PCM at 8000 Hz in 20 ms chunks (160 samples, 320
// bytes). Web Audio renders 128-frame quanta of Float32, so this processor converts and
// re-chunks them, and posts every full chunk's ArrayBuffer to the main thread (transferred, not
// copied), which sends it on the call's WebSocket. It runs on the audio rendering thread:
// nothing here may block or allocate more than one small buffer per chunk.
//
// call-audio.js asks for an 8000 Hz AudioContext, so normally the input is already at the hub's rate.
// A browser that refuses an 8 kHz context (or refuses to connect a microphone to one) gets the
// default rate instead, and this processor decimates: each output sample is the average of the
// input samples falling in its 1/8000 s window. That box filter is a crude anti-alias filter, but
// the hub's speech recogniser only needs telephone quality.

'use strict';

const RATE = 8000;
const CHUNK = 160;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    // `sampleRate` is the AudioWorkletGlobalScope's: the context's rate.
    this.step = sampleRate / RATE;
    this.chunk = new DataView(new ArrayBuffer(CHUNK * 2));
    this.filled = 0;
    // The averaging decimator's running window (unused when the context is at 8000 Hz).
    this.sum = 0;
    this.count = 0;
    this.phase = 0;
  }

  process(inputs) {
    // No channels when the microphone is not (yet, or any more) connected.
    const samples = inputs[0] && inputs[0][0];
    if (!samples) return true;
    if (this.step === 1) {
      for (let i = 0; i < samples.length; i++) this.push(samples[i]);
    } else {
      for (let i = 0; i < samples.length; i++) {
        this.sum += samples[i];
        this.count++;
        this.phase += 1;
        if (this.phase >= this.step) {
          this.push(this.sum / this.count);
          this.phase -= this.step;
          this.sum = 0;
          this.count = 0;
        }
      }
    }
    // Keep running for as long as the node exists; call-audio.js disconnects it when the call ends.
    return true;
  }

  push(value) {
    const clamped = value > 1 ? 1 : value < -1 ? -1 : value;
    this.chunk.setInt16(this.filled * 2, Math.round(clamped * 32767), true);
    if (++this.filled === CHUNK) {
      const buffer = this.chunk.buffer;
      this.port.postMessage(buffer, [buffer]);
      this.chunk = new DataView(new ArrayBuffer(CHUNK * 2));
      this.filled = 0;
    }
  }
}

registerProcessor('switchboard-capture', CaptureProcessor);
