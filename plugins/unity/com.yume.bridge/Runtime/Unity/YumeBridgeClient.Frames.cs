// Main-thread half of the client: turns session events into UnityEvents and Console lines, and uploads
// frames in order (at most one texture upload per rendered frame).
using System;
using System.Collections.Generic;
using Unity.Collections;
using UnityEngine;
using Yume.Bridge.Core;
using Debug = UnityEngine.Debug;

namespace Yume.Bridge
{
    public sealed partial class YumeBridgeClient
    {
        /// <summary>
        /// Reports the events of <paramref name="source"/>. A close tears that connection down BEFORE the listeners
        /// hear of it, so a listener may call <see cref="Connect"/> from OnError or OnDisconnected and keep the
        /// new connection.
        /// </summary>
        void DrainEvents(BridgeConnection source)
        {
            ErrorMessage lastDaemonError = null;
            ClientEvent e;
            while (source.TryDequeueEvent(out e))
            {
                if (e is SessionConnected connected) HandleConnected(connected.Welcome);
                else if (e is StatusReceived received) HandleStatus(received.Status);
                else if (e is RttMeasured rtt) status.rttMs = (float)rtt.SmoothedRttMs;
                else if (e is WorldStarted started)
                    Debug.Log(LogPrefix + $"World {started.Started.World} started from {started.Started.Source} (seed {started.Started.SeedUsed}).", this);
                else if (e is UploadProgress progress && progress.Complete)
                    Debug.Log(LogPrefix + $"Start image uploaded ({progress.Size} bytes).", this);
                else if (e is EventAcknowledged ack) HandleEventAck(ack);
                else if (e is EventFailed eventFailed) HandleEventFailed(eventFailed, lastDaemonError);
                else if (e is StartFailed startFailed) ReportFailure(startFailed.Code, "Start failed: " + startFailed.Message, lastDaemonError);
                else if (e is UploadFailed uploadFailed) ReportFailure(uploadFailed.Code, "Start image upload failed: " + uploadFailed.Message, lastDaemonError);
                else if (e is DaemonErrorReceived daemonError)
                {
                    lastDaemonError = daemonError.Error;
                    Debug.LogWarning(LogPrefix + $"The daemon reported {daemonError.Error.Code}: {daemonError.Error.Message}", this);
                    onError.Invoke(daemonError.Error.Code, daemonError.Error.Message);
                }
                else if (e is SessionWarning warning) Debug.LogWarning(LogPrefix + warning.Message, this);
                else if (e is SessionClosed closed)
                {
                    if (source == connection) TearDown();
                    else source.Dispose();
                    HandleClosed(closed);
                    return; // the source is gone; a listener may already have connected anew
                }
            }
        }

        void HandleConnected(WelcomeMessage w)
        {
            welcome = w;
            lastProblem = "";
            reconnect.Succeeded();
            reconnectAt = null;
            status.readiness = w.State;
            var info = YumeSessionInfo.From(w, Endpoint);
            Debug.Log(LogPrefix + "Connected: " + info, this);
            onConnected.Invoke(info);
        }

        void HandleStatus(StatusMessage s)
        {
            status.readiness = s.State;
            status.progress = (float)s.Progress;
            status.world = s.World;
            status.chunk = s.Chunk;
            status.queue = s.Queue;
            status.action = welcome != null ? welcome.Vocabulary.Describe(s.Action) : s.Action.ToString();
            status.message = s.Message;
            status.queueMs = (float)s.Latency.QueueMs;
            status.generateMs = (float)s.Latency.GenerateMs;
            status.encodeMs = (float)s.Latency.EncodeMs;
            status.sendMs = (float)s.Latency.SendMs;
            status.daemonFps = (float)s.Fps;
            status.inputToFrameMs = (float)(connection.InputToFrameMs ?? 0);
            status.nacksSent = connection.FrameStats.NacksSent;
            if (decodeWorker != null) status.decodeMs = (float)decodeWorker.DecodeMsAverage;
            if (s.State == ReadinessStates.Error) Debug.LogWarning(LogPrefix + "The generator reports an error: " + s.Message, this);
            onStatus.Invoke(status.Clone());
        }

        void HandleEventAck(EventAcknowledged ack)
        {
            PendingEventCallback pending;
            if (!eventCallbacks.TryGetValue(ack.Id, out pending)) return;
            eventCallbacks.Remove(ack.Id);
            pending.Callback?.Invoke(new YumeEventResult { id = (int)ack.Id, acknowledged = true, chunk = ack.Ack.Chunk });
            onEventAcknowledged.Invoke((int)ack.Id, pending.Text);
        }

        void HandleEventFailed(EventFailed failed, ErrorMessage lastDaemonError)
        {
            PendingEventCallback pending;
            if (eventCallbacks.TryGetValue(failed.Id, out pending))
            {
                eventCallbacks.Remove(failed.Id);
                pending.Callback?.Invoke(new YumeEventResult { id = (int)failed.Id, code = failed.Code, message = failed.Message });
            }
            ReportFailure(failed.Code, $"Event {failed.Id} failed: {failed.Message}", lastDaemonError);
        }

        /// <summary>Logs a failure; OnError fires unless the daemon's error message already fired it.</summary>
        void ReportFailure(string code, string message, ErrorMessage alreadyReported)
        {
            Debug.LogError(LogPrefix + message, this);
            if (alreadyReported == null || alreadyReported.Code != code) onError.Invoke(code, message);
        }

        void HandleClosed(SessionClosed closed)
        {
            status.readiness = "disconnected";
            ScheduleReconnect(closed);
            switch (closed.Reason)
            {
                case CloseReason.ClientClosed:
                    Debug.Log(LogPrefix + "Disconnected.", this);
                    break;
                case CloseReason.DaemonBye:
                    Debug.LogWarning(LogPrefix + closed.Message, this);
                    break;
                default:
                    // Unreachable, wrong or missing token, version mismatch, session limit, silence, fatal error.
                    lastProblem = closed.Message;
                    Debug.LogError(LogPrefix + closed.Message, this);
                    onError.Invoke(closed.Code, closed.Message);
                    break;
            }
            // Taken out first: a callback may send an event on a connection it just made.
            var orphaned = new List<KeyValuePair<uint, PendingEventCallback>>(eventCallbacks);
            eventCallbacks.Clear();
            foreach (var pending in orphaned)
                pending.Value.Callback?.Invoke(new YumeEventResult
                {
                    id = (int)pending.Key, code = closed.Code, message = "The session ended before the event was acknowledged.",
                });
            onDisconnected.Invoke(closed.Code, closed.Message);
        }

        void TearDown()
        {
            decodeWorker?.Dispose();
            decodeWorker = null;
            connection?.Dispose();
            connection = null;
            welcome = null;
            lastSentInput = null;
        }

        /// <summary>
        /// Shows at most one frame per rendered frame, in order: frames that arrive together (a repaired frame and the
        /// one held behind it) are shown on consecutive rendered frames, not one replacing the other. When more than
        /// <see cref="FrameQueue.MaxBacklog"/> frames wait (the game renders slower than the stream), it skips to the
        /// newest and releases the older ones, so the picture keeps up with the stream.
        /// </summary>
        void UploadNextFrame()
        {
            if (Time.frameCount == lastUploadFrame) return; // at most one texture upload per rendered frame
            uploadClock.Reset();
            if (decodeWorker != null)
            {
                var decoded = decodeWorker.TakeFrameToShow();
                if (decoded == null) return;
                uploadClock.Start();
                bool shown;
                if (decoded.Image != null)
                {
                    var image = decoded.Image;
                    EnsureOutput(image.Width, image.Height);
                    NativeArray<byte> pixels = output.GetRawTextureData<byte>();
                    NativeArray<byte>.Copy(image.Pixels, pixels, image.ByteCount); // RGBA32: no conversion on the GPU side
                    output.Apply(false, false);
                    shown = true;
                }
                else shown = DecodeRefusedFrame(decoded);
                decodeWorker.Recycle(decoded);
                status.decodeMs = (float)decodeWorker.DecodeMsAverage;
                if (!shown) return;
            }
            else
            {
                var frame = connection.TakeFrameToShow();
                if (frame == null) return;
                uploadClock.Start();
                EnsureOutput(welcome?.Width ?? 16, welcome?.Height ?? 16);
                ImageConversion.LoadImage(output, frame.Jpeg, false); // decodes on the main thread (allocates)
                frame.Release();
                status.decodeMs = 0;
            }
            uploadClock.Stop();
            status.uploadMs = status.uploadMs == 0 ? (float)uploadClock.Elapsed.TotalMilliseconds
                                                   : status.uploadMs * 0.9f + (float)uploadClock.Elapsed.TotalMilliseconds * 0.1f;
            lastUploadFrame = Time.frameCount;
            CountShownFrame();
            PublishOutput();
        }

        /// <summary>
        /// A frame the managed decoder refused (e.g. progressive JPEG): Unity decodes it on the main thread, which
        /// costs milliseconds, so this says so once and decodes at most <see cref="FallbackDecodesPerSecond"/> a second.
        /// </summary>
        bool DecodeRefusedFrame(DecodedFrame decoded)
        {
            status.fallbackDecodes++;
            if (!fallbackWarned)
            {
                fallbackWarned = true;
                string message = "A frame is not a baseline JPEG the background decoder reads (" + decoded.FallbackReason +
                                 "), so Unity decodes it on the main thread, at most " + FallbackDecodesPerSecond +
                                 " per second. The daemon sends baseline 4:2:0 JPEG: check what sits between it and this client.";
                Debug.LogWarning(LogPrefix + message, this);
                onError.Invoke(ErrorCodes.DecodeFallback, message);
            }
            float now = Time.unscaledTime;
            if (now - lastFallbackDecodeAt < 1f / FallbackDecodesPerSecond) return false;
            lastFallbackDecodeAt = now;
            EnsureOutput(welcome?.Width ?? 16, welcome?.Height ?? 16);
            ImageConversion.LoadImage(output, decoded.Frame.Jpeg, false);
            return true;
        }

        /// <summary>Hands the texture to the render texture, the material and the listeners.</summary>
        void PublishOutput()
        {
            if (targetRenderTexture != null) Graphics.Blit(output, targetRenderTexture);
            if (targetMaterial != null)
            {
                // mainTexture follows the shader's [MainTexture] property: _BaseMap under URP/HDRP, _MainTex built in.
                if (string.IsNullOrEmpty(targetTextureProperty) || targetTextureProperty == "_MainTex") targetMaterial.mainTexture = output;
                else targetMaterial.SetTexture(targetTextureProperty, output);
            }
            onFrame.Invoke(output);
        }

        void CountShownFrame()
        {
            status.framesShown++;
            shownInWindow++;
            float now = Time.unscaledTime;
            if (now - shownWindowStart >= 1f)
            {
                status.shownFps = shownInWindow / Mathf.Max(0.001f, now - shownWindowStart);
                shownInWindow = 0;
                shownWindowStart = now;
            }
        }

        void EnsureOutput(int width, int height)
        {
            if (output != null && output.width == width && output.height == height && output.format == TextureFormat.RGBA32) return;
            if (output != null) Destroy(output);
            output = new Texture2D(width, height, TextureFormat.RGBA32, false)
            {
                name = "Yume Bridge stream",
                wrapMode = TextureWrapMode.Clamp,
                filterMode = filterMode,
            };
        }
    }

    /// <summary>Turns any Texture2D into JPEG bytes for the start-image upload.</summary>
    public static class YumeTextureEncoding
    {
        /// <summary>Readable textures are encoded directly; others are first copied through a temporary RenderTexture.</summary>
        public static byte[] EncodeJpeg(Texture2D texture, int quality)
        {
            if (texture.isReadable)
            {
                try
                {
                    return ImageConversion.EncodeToJPG(texture, quality);
                }
                catch (ArgumentException)
                {
                    // e.g. a compressed format EncodeToJPG cannot read: fall through to the GPU copy
                }
                catch (UnityException)
                {
                }
            }
            int width = texture.width, height = texture.height;
            var target = RenderTexture.GetTemporary(width, height, 0, RenderTextureFormat.ARGB32, RenderTextureReadWrite.sRGB);
            var previous = RenderTexture.active;
            var copy = new Texture2D(width, height, TextureFormat.RGB24, false);
            try
            {
                Graphics.Blit(texture, target);
                RenderTexture.active = target;
                copy.ReadPixels(new Rect(0, 0, width, height), 0, 0);
                copy.Apply(false);
                return ImageConversion.EncodeToJPG(copy, quality);
            }
            finally
            {
                RenderTexture.active = previous;
                RenderTexture.ReleaseTemporary(target);
                if (Application.isPlaying) UnityEngine.Object.Destroy(copy);
                else UnityEngine.Object.DestroyImmediate(copy);
            }
        }
    }
}
