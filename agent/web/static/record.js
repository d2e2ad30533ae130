// The reel page's recorder: record yourself reading the script with MediaRecorder, see the level and the time, listen
// back, then send it with the page's ordinary upload form (the recording is put into its file field). Without
// MediaRecorder or a microphone the recorder stays hidden and the upload form works on its own.
(() => {
  const box = document.querySelector(".own-voice .recorder");
  const form = document.querySelector(".own-voice .own-voice-upload");
  if (!box || !form) return;
  if (!window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof DataTransfer === "undefined") return;

  const start = box.querySelector(".record-start");
  const stop = box.querySelector(".record-stop");
  const time = box.querySelector(".record-time");
  const level = box.querySelector(".record-level");
  const playback = box.querySelector(".record-playback");
  const status = box.querySelector(".record-status");
  const input = form.querySelector("input[type=file]");
  const send = form.querySelector("button");
  const MAX_SECONDS = 15 * 60;   // a reel is at most 15 minutes
  let recorder = null;
  let stream = null;
  let audioContext = null;
  let timer = null;
  let frame = null;
  let startedAt = 0;
  let playbackUrl = null;

  box.hidden = false;

  const say = (text) => { status.textContent = text; };
  const clock = (seconds) => `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, "0")}`;
  const preferred = () => ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"]
    .find((type) => MediaRecorder.isTypeSupported(type)) || "";

  function meter(source) {
    // The level: the peak of the last few milliseconds on a decibel scale (-60 dBFS empty, 0 dBFS full), falling back
    // slowly so that speech reads as a steady bar; near the top the meter turns red (the recording would clip).
    try {
      audioContext = new (window.AudioContext || window.webkitAudioContext)();
      const analyser = audioContext.createAnalyser();
      analyser.fftSize = 1024;
      audioContext.createMediaStreamSource(source).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      const tick = () => {
        analyser.getFloatTimeDomainData(samples);
        let peak = 0;
        for (const value of samples) peak = Math.max(peak, Math.abs(value));
        const scaled = peak > 0.001 ? Math.min(1, Math.max(0, (20 * Math.log10(peak) + 60) / 60)) : 0;
        level.value = Math.max(scaled, level.value - 0.02);
        frame = requestAnimationFrame(tick);
      };
      tick();
    } catch (error) {
      level.hidden = true;   // no Web Audio: the timer still shows that it records
    }
  }

  function release() {
    clearInterval(timer);
    cancelAnimationFrame(frame);
    if (stream) stream.getTracks().forEach((track) => track.stop());
    if (audioContext) audioContext.close();
    stream = audioContext = null;
    level.value = 0;
  }

  start.addEventListener("click", async () => {
    say("");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: true, autoGainControl: true } });
    } catch (error) {
      say("The microphone is not available: allow it for this site in your browser, or upload a recording below.");
      return;
    }
    const type = preferred();
    recorder = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
    const chunks = [];
    recorder.addEventListener("dataavailable", (event) => { if (event.data && event.data.size) chunks.push(event.data); });
    recorder.addEventListener("stop", () => {
      release();
      const blob = new Blob(chunks, { type: recorder.mimeType || type || "audio/webm" });
      const suffix = blob.type.includes("ogg") ? "ogg" : blob.type.includes("mp4") ? "m4a" : "webm";
      const file = new File([blob], `recording.${suffix}`, { type: blob.type });
      const files = new DataTransfer();
      files.items.add(file);
      input.files = files.files;   // the ordinary form sends it: same checks, same messages
      if (playbackUrl) URL.revokeObjectURL(playbackUrl);
      playbackUrl = URL.createObjectURL(blob);
      playback.src = playbackUrl;
      playback.hidden = false;
      start.disabled = false;
      start.textContent = "Record again";
      stop.disabled = true;
      send.textContent = "Use this recording";
      say(`Recorded ${clock((Date.now() - startedAt) / 1000)}. Listen to it, then press “Use this recording” to check and keep it.`);
    });
    recorder.start(1000);
    startedAt = Date.now();
    time.textContent = "0:00";
    timer = setInterval(() => {
      const seconds = (Date.now() - startedAt) / 1000;
      time.textContent = clock(seconds);
      if (seconds >= MAX_SECONDS && recorder.state === "recording") recorder.stop();
    }, 250);
    meter(stream);
    start.disabled = true;
    stop.disabled = false;
    playback.hidden = true;
    say("Recording… read the script, then press Stop.");
  });

  stop.addEventListener("click", () => {
    if (recorder && recorder.state === "recording") recorder.stop();
  });

  form.addEventListener("submit", () => {
    if (recorder && recorder.state === "recording") recorder.stop();
    // Disabled after this tick, so the browser still sends the submit the click started.
    setTimeout(() => { send.disabled = true; send.textContent = "Checking your recording…"; send.setAttribute("aria-busy", "true"); }, 0);
  });

  window.addEventListener("pageshow", () => {
    send.disabled = false;
    send.removeAttribute("aria-busy");
  });
})();
