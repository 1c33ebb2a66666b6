// What the application asks of a session: input, start-image upload, start, event prompts, config.
// Requests made before the welcome wait and go out as soon as the session opens.
using System;
using System.Collections.Generic;

namespace Yume.Bridge.Core
{
    public sealed partial class ClientSession
    {
        sealed class StartRequest
        {
            public string Source;
            public byte[] Image;
            public string Prompt;
            public uint Seed;
            public bool WaitingForUpload;
            public int Attempts;
            public int RateLimited;
            public double NextAt = double.NegativeInfinity;
            public readonly HashSet<uint> Seqs = new HashSet<uint>();
        }

        sealed class PendingEvent
        {
            public uint Id;
            public string Text;
            public int Attempts;
            public double NextAt = double.NegativeInfinity;
            public double FirstSentAt;
            public readonly HashSet<uint> Seqs = new HashSet<uint>();
        }

        // Input: newest wins; sent on change (rate-limited) and repeated as a heartbeat.
        const int MaxRememberedInputs = 64;
        InputState input;
        bool inputDirty;
        double lastInputSentAt = double.NegativeInfinity;
        readonly Dictionary<uint, double> inputSentAt = new Dictionary<uint, double>();
        uint lastMeasuredInputSeq;

        // Upload and start.
        byte[] uploadFile;
        ImageUpload upload;
        readonly HashSet<uint> uploadSeqs = new HashSet<uint>();
        long lastReportedUploadBytes;
        StartRequest start;

        // Events, by id.
        readonly SortedDictionary<uint, PendingEvent> pendingEvents = new SortedDictionary<uint, PendingEvent>();
        uint nextEventId = 1;

        // Config: sent once; a wanted pause state is re-sent when a status disagrees with it.
        int? configQuality;
        double? configFps;
        bool? configPaused, wantedPaused;
        bool configDirty;

        // ---- requests -------------------------------------------------------------------------

        /// <summary>Sets the current input; it goes out on change (at most every InputMinInterval) and every 500 ms.</summary>
        public void SetInput(InputState state, double now)
        {
            lastNow = now;
            if (state == null) throw new ArgumentNullException(nameof(state));
            if (state.Equals(input)) return;
            input = state;
            inputDirty = true;
            Pump(now);
        }

        /// <summary>Uploads a JPEG/PNG file as the start image without starting; returns its SHA-256.</summary>
        public byte[] UploadImage(byte[] file, double now)
        {
            lastNow = now;
            if (file == null || file.Length == 0) throw new ArgumentException("the image file is empty");
            uploadFile = (byte[])file.Clone();
            upload = null; // built when the session is open and the piece size is known
            uploadSeqs.Clear();
            lastReportedUploadBytes = 0;
            byte[] hash;
            using (var sha = System.Security.Cryptography.SHA256.Create()) hash = sha.ComputeHash(uploadFile);
            Pump(now);
            return hash;
        }

        /// <summary>Uploads the image, then starts a world from it once the daemon has it (SPEC §5.4–5.5).</summary>
        public byte[] StartFromImageFile(byte[] file, double now, string prompt = "", uint? seed = null)
        {
            var hash = UploadImage(file, now);
            start = new StartRequest { Source = StartSources.Image, Image = hash, Prompt = prompt ?? "", Seed = SeedOrRandom(seed), WaitingForUpload = true };
            Pump(now);
            return hash;
        }

        /// <summary>Starts from an image the daemon already holds (uploaded earlier, or cached).</summary>
        public void StartFromImageHash(byte[] hash, double now, string prompt = "", uint? seed = null)
        {
            if (hash == null || hash.Length != UploadMessage.HashLength) throw new ArgumentException("an image hash is 32 bytes (SHA-256)");
            BeginStart(StartSources.Image, (byte[])hash.Clone(), prompt, seed, now);
        }

        public void StartFromText(string prompt, double now, uint? seed = null)
        {
            if (string.IsNullOrEmpty(prompt)) throw new ArgumentException("a text start needs a prompt");
            BeginStart(StartSources.Text, null, prompt, seed, now);
        }

        /// <summary>Starts from the daemon's configured start image, else its built-in scene.</summary>
        public void StartDefault(double now, string prompt = "", uint? seed = null) =>
            BeginStart(StartSources.Default, null, prompt, seed, now);

        void BeginStart(string source, byte[] image, string prompt, uint? seed, double now)
        {
            lastNow = now;
            start = new StartRequest { Source = source, Image = image, Prompt = prompt ?? "", Seed = SeedOrRandom(seed) };
            Pump(now);
        }

        /// <summary>
        /// The seed is chosen here when not given, so that a retransmitted start asks for the same world
        /// (a start whose <c>started</c> was lost is sent again after StartResendSeconds).
        /// </summary>
        uint SeedOrRandom(uint? seed)
        {
            if (seed.HasValue) return seed.Value;
            var bytes = new byte[4];
            random.Fill(bytes);
            return BitConverter.ToUInt32(bytes, 0);
        }

        /// <summary>Sends a new event prompt; it is retransmitted until acknowledged. Returns its id.</summary>
        public uint SendEvent(string text, double now)
        {
            if (string.IsNullOrEmpty(text)) throw new ArgumentException("an event prompt has text (use ClearEvent to remove one)");
            uint id = nextEventId++;
            ReplaceEvent(id, text, now);
            return id;
        }

        /// <summary>Replaces the text of event <paramref name="id"/>; "" clears it.</summary>
        public void ReplaceEvent(uint id, string text, double now)
        {
            lastNow = now;
            if (text == null) throw new ArgumentNullException(nameof(text));
            if (!pendingEvents.ContainsKey(id) && pendingEvents.Count >= options.MaxPendingEvents)
            {
                Emit(new EventFailed(id, ErrorCodes.TooManyEvents,
                                     $"{pendingEvents.Count} events are still waiting for an acknowledgement; try again later."));
                return;
            }
            pendingEvents[id] = new PendingEvent { Id = id, Text = text };
            Pump(now);
        }

        public void ClearEvent(uint id, double now) => ReplaceEvent(id, "", now);

        /// <summary>Changes quality, fps or pause (SPEC §5.8); null leaves a setting as it is.</summary>
        public void Configure(double now, int? quality = null, double? fps = null, bool? paused = null)
        {
            lastNow = now;
            if (quality.HasValue && (quality < 1 || quality > 100)) throw new ArgumentException("quality lies in 1…100");
            if (fps.HasValue && !(fps >= 1 && fps <= 240)) throw new ArgumentException("fps lies in 1…240");
            configQuality = quality ?? configQuality;
            configFps = fps ?? configFps;
            configPaused = paused ?? configPaused;
            if (paused.HasValue) wantedPaused = paused;
            configDirty = true;
            Pump(now);
        }

        /// <summary>Sends a ping now (pings also go out every PingInterval).</summary>
        public void Ping(double now)
        {
            lastNow = now;
            if (State == ClientSessionState.Open) SendPing(now);
        }

        // ---- sending --------------------------------------------------------------------------

        void PumpRequests(double now)
        {
            PumpConfig();
            PumpInput(now);
            PumpUpload(now);
            PumpStart(now);
            PumpEvents(now);
        }

        double? NextRequestTimer()
        {
            double? earliest = null;
            if (configDirty) earliest = lastNow;
            if (input != null)
                earliest = Earliest(earliest, lastInputSentAt + (inputDirty ? options.InputMinIntervalSeconds : options.InputHeartbeatSeconds));
            if (uploadFile != null && upload == null) earliest = Earliest(earliest, lastNow);
            if (upload != null) earliest = Earliest(earliest, upload.NextTimer());
            if (start != null && !start.WaitingForUpload) earliest = Earliest(earliest, start.NextAt);
            if (pendingEvents.Count > 0) // enumerating a SortedDictionary allocates: not on the idle tick
                foreach (var e in pendingEvents.Values) earliest = Earliest(earliest, e.NextAt);
            return earliest;
        }

        static double? Earliest(double? current, double? candidate)
        {
            if (!candidate.HasValue) return current;
            if (!current.HasValue) return candidate;
            return Math.Min(current.Value, candidate.Value);
        }

        void PumpConfig()
        {
            if (!configDirty) return;
            configDirty = false;
            SendSessionMessage(seq => new ConfigMessage(sessionId, seq, configQuality, configFps, configPaused));
        }

        void ReconcilePause(StatusMessage status, double now)
        {
            if (!wantedPaused.HasValue) return;
            bool isPaused = status.State == ReadinessStates.Paused;
            bool isRunning = status.State == ReadinessStates.Generating;
            if ((wantedPaused.Value && isRunning) || (!wantedPaused.Value && isPaused))
            {
                configPaused = wantedPaused;
                configDirty = true; // the config was lost (or crossed this status): send it again
            }
        }

        void PumpInput(double now)
        {
            if (input == null) return;
            double due = lastInputSentAt + (inputDirty ? options.InputMinIntervalSeconds : options.InputHeartbeatSeconds);
            if (now < due) return;
            SendInput(input, now);
        }

        // Apart from PumpInput: the lambda's captured locals are allocated where their scope begins, and the idle tick
        // must allocate nothing.
        void SendInput(InputState state, double now)
        {
            var keys = new List<string>(state.Keys);
            if (keys.Count > Welcome.Limits.MaxKeys) keys.RemoveRange(Welcome.Limits.MaxKeys, keys.Count - Welcome.Limits.MaxKeys);
            long timeUs = (long)Math.Round(now * 1e6);
            uint inputSeq = PeekSeq;
            SendSessionMessage(seq => new InputMessage(sessionId, seq, timeUs, state.MoveX, state.MoveY, state.LookX, state.LookY, keys));
            if (inputSentAt.Count >= MaxRememberedInputs) inputSentAt.Clear(); // bounded; measurement resumes at once
            inputSentAt[inputSeq] = now;
            lastInputSentAt = now;
            inputDirty = false;
        }

        void PumpUpload(double now)
        {
            if (uploadFile != null && upload == null && !BeginUpload()) return;
            if (upload == null) return;
            if (upload.Complete) return;
            foreach (var piece in upload.TakeDue(now))
            {
                var data = upload.DataOf(piece);
                var hash = upload.Hash;
                long size = upload.Size;
                uploadSeqs.Add(PeekSeq);
                SendSessionMessage(seq => new UploadMessage(sessionId, seq, hash, size, piece.Offset, data));
            }
            if (upload.GaveUp)
                FailUpload(ErrorCodes.NotAcknowledged, "The daemon did not acknowledge the start image upload.");
        }

        bool BeginUpload()
        {
            if (uploadFile.Length > Welcome.Limits.MaxUploadBytes)
            {
                FailUpload(ErrorCodes.UploadTooLarge,
                           $"The start image is {uploadFile.Length} bytes; the daemon accepts at most {Welcome.Limits.MaxUploadBytes}.");
                return false;
            }
            upload = new ImageUpload(uploadFile, PieceSize(uploadFile.Length), options.UploadMaxInFlight,
                                     options.UploadResendSeconds, options.UploadMaxSendsPerPiece);
            return true;
        }

        /// <summary>The largest piece whose upload datagram (tag included) fits max_datagram and max_control_bytes.</summary>
        int PieceSize(long fileSize)
        {
            int limit = Math.Min(Welcome.MaxDatagram, Welcome.Limits.MaxControlBytes) - (sessionKey != null ? SessionAuth.TagLength : 0);
            int size = options.Encoding == WireEncoding.Json ? limit * 3 / 4 : limit;
            while (size > 1)
            {
                int pieceSize = (int)Math.Min(size, fileSize);
                var probe = new UploadMessage(uint.MaxValue, uint.MaxValue, new byte[UploadMessage.HashLength], fileSize,
                                              fileSize - pieceSize, new byte[pieceSize]);
                if (ControlCodec.Encode(probe, options.Encoding).Length <= limit) return pieceSize;
                size -= options.Encoding == WireEncoding.Json ? 3 : 1;
            }
            return 1;
        }

        void FailUpload(string code, string message)
        {
            uploadFile = null;
            upload = null;
            uploadSeqs.Clear();
            Emit(new UploadFailed(code, message));
            if (start != null && start.WaitingForUpload)
            {
                start = null;
                Emit(new StartFailed(code, "The world was not started because the start image upload failed: " + message));
            }
        }

        void OnUploadAck(UploadAckMessage ack, double now)
        {
            if (upload == null || !upload.OnAck(ack)) return;
            bool report = upload.Complete || upload.Received - lastReportedUploadBytes >= Math.Max(1, upload.Size / 20);
            if (report)
            {
                lastReportedUploadBytes = upload.Received;
                Emit(new UploadProgress(upload.Hash, upload.Received, upload.Size, upload.Complete));
            }
            if (!upload.Complete) return;
            uploadFile = null;
            uploadSeqs.Clear();
            if (start != null && start.WaitingForUpload && ByteArrays.Equal(start.Image, upload.Hash))
            {
                start.WaitingForUpload = false;
                start.NextAt = now;
            }
        }

        void PumpStart(double now)
        {
            if (start == null || start.WaitingForUpload || now < start.NextAt) return;
            if (start.Attempts >= options.StartMaxAttempts)
            {
                start = null;
                Emit(new StartFailed(ErrorCodes.NotAcknowledged, $"The daemon did not answer the start after {options.StartMaxAttempts} attempts."));
                return;
            }
            if (CodePoints.Count(start.Prompt) > Welcome.Limits.MaxPromptChars)
            {
                start = null;
                Emit(new StartFailed(ErrorCodes.TextTooLong, $"The prompt is longer than the daemon's {Welcome.Limits.MaxPromptChars} characters."));
                return;
            }
            SendStart(start, now);
        }

        // Apart from PumpStart, for the same reason as SendInput.
        void SendStart(StartRequest request, double now)
        {
            uint seqUsed = PeekSeq;
            bool sent = SendSessionMessage(seq => new StartMessage(sessionId, seq, request.Source, request.Image, request.Prompt, request.Seed));
            if (!sent)
            {
                start = null;
                Emit(new StartFailed(ErrorCodes.TextTooLong, $"The start message would exceed the daemon's {Welcome.Limits.MaxControlBytes}-byte datagram limit; shorten the prompt."));
                return;
            }
            request.Seqs.Add(seqUsed);
            request.Attempts++;
            request.NextAt = now + options.StartResendSeconds;
        }

        void PumpEvents(double now)
        {
            if (pendingEvents.Count == 0) return; // the idle tick allocates nothing
            List<EventFailed> failed = null;
            foreach (var e in pendingEvents.Values)
            {
                if (now < e.NextAt) continue;
                if (e.Attempts >= options.EventMaxAttempts)
                {
                    failed = Append(failed, new EventFailed(e.Id, ErrorCodes.NotAcknowledged, $"The daemon did not acknowledge event {e.Id} after {e.Attempts} attempts."));
                    continue;
                }
                if (CodePoints.Count(e.Text) > Welcome.Limits.MaxEventChars)
                {
                    failed = Append(failed, new EventFailed(e.Id, ErrorCodes.TextTooLong, $"The event text is longer than the daemon's {Welcome.Limits.MaxEventChars} characters."));
                    continue;
                }
                uint seqUsed = PeekSeq;
                var pending = e;
                if (!SendSessionMessage(seq => new EventMessage(sessionId, seq, pending.Id, pending.Text)))
                {
                    failed = Append(failed, new EventFailed(e.Id, ErrorCodes.TextTooLong, "The event message would exceed the daemon's datagram limit."));
                    continue;
                }
                if (e.Attempts == 0) e.FirstSentAt = now;
                e.Seqs.Add(seqUsed);
                e.Attempts++;
                e.NextAt = now + options.EventResendSeconds;
            }
            if (failed == null) return;
            foreach (var f in failed)
            {
                pendingEvents.Remove(f.Id);
                Emit(f);
            }
        }

        /// <summary>Adds to a list made only when the first item comes (the common, empty case allocates nothing).</summary>
        static List<T> Append<T>(List<T> list, T item)
        {
            if (list == null) list = new List<T>();
            list.Add(item);
            return list;
        }

        void MeasureInputToFrame(CompleteFrame frame, double now)
        {
            double sentAt;
            if (frame.InputSeq == 0 || frame.InputSeq == lastMeasuredInputSeq || !inputSentAt.TryGetValue(frame.InputSeq, out sentAt)) return;
            lastMeasuredInputSeq = frame.InputSeq;
            InputToFrameMs = (now - sentAt) * 1000.0;
        }

        // ---- replies --------------------------------------------------------------------------

        bool DispatchRequestReply(ControlMessage message, double now)
        {
            var ack = message as UploadAckMessage;
            if (ack != null)
            {
                OnUploadAck(ack, now);
                return true;
            }
            var started = message as StartedMessage;
            if (started != null)
            {
                start = null;
                LastStarted = started;
                Emit(new WorldStarted(started));
                return true;
            }
            var eventAck = message as EventAckMessage;
            if (eventAck != null)
            {
                PendingEvent pending;
                if (pendingEvents.TryGetValue(eventAck.Id, out pending))
                {
                    pendingEvents.Remove(eventAck.Id);
                    Emit(new EventAcknowledged(eventAck, now - pending.FirstSentAt));
                }
                return true;
            }
            return false;
        }

        /// <summary>Reports an error against the request it answers: by <c>ref</c>, or by code for uploads.</summary>
        /// <summary>
        /// v1.1 rate_limited: keep the request. A refused start does not count as an attempt and waits 1, 2, 4, then
        /// 8 s (the daemon's start budget refills one per few seconds); events and upload pieces keep their timers.
        /// </summary>
        void DeferRateLimitedRequest(ErrorMessage error, double now)
        {
            if (start == null || error.Ref == 0 || !start.Seqs.Contains(error.Ref)) return;
            start.Attempts = Math.Max(0, start.Attempts - 1);
            double wait = Math.Min(8.0, Math.Pow(2, start.RateLimited));
            start.RateLimited++;
            start.NextAt = Math.Max(start.NextAt, now + Math.Max(wait, options.StartResendSeconds));
        }

        void RouteErrorToRequest(ErrorMessage error, double now)
        {
            if (start != null && error.Ref != 0 && start.Seqs.Contains(error.Ref))
            {
                start = null;
                Emit(new StartFailed(error.Code, error.Message));
                return;
            }
            foreach (var e in pendingEvents.Values)
            {
                if (error.Ref == 0 || !e.Seqs.Contains(error.Ref)) continue;
                pendingEvents.Remove(e.Id);
                Emit(new EventFailed(e.Id, error.Code, error.Message));
                return;
            }
            bool uploadCode = error.Code == ErrorCodes.UploadTooLarge || error.Code == ErrorCodes.UploadMismatch ||
                              error.Code == ErrorCodes.BadImage;
            bool uploadRef = error.Ref != 0 && uploadSeqs.Contains(error.Ref);
            bool uploading = uploadFile != null; // cleared once the daemon says complete
            if (uploading && (uploadRef || uploadCode)) FailUpload(error.Code, error.Message);
        }
    }
}
