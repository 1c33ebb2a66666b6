// The sending side of one start-image upload (SPEC §5.4): pieces, at most 32 in flight, resend after 500 ms.
using System;
using System.Collections.Generic;
using System.Security.Cryptography;

namespace Yume.Bridge.Core
{
    /// <summary>A piece of the file, as offset and length.</summary>
    public struct UploadPiece
    {
        public UploadPiece(long offset, int length)
        {
            Offset = offset;
            Length = length;
        }

        public long Offset { get; }
        public int Length { get; }
    }

    public sealed class ImageUpload
    {
        sealed class PieceState
        {
            public long Offset;
            public int Length;
            public bool Acked;
            public int Sends;
            public double SentAt;
        }

        readonly byte[] file;
        readonly PieceState[] pieces;
        readonly int maxInFlight;
        readonly double resendSeconds;
        readonly int maxSendsPerPiece;
        int nextUnsent;
        double lastPollAt = double.NegativeInfinity;

        public ImageUpload(byte[] file, int pieceSize, int maxInFlight, double resendSeconds, int maxSendsPerPiece)
        {
            if (file == null || file.Length == 0) throw new ArgumentException("the image file is empty");
            if (pieceSize < 1) throw new ArgumentException("piece size must be positive");
            this.file = file;
            this.maxInFlight = maxInFlight;
            this.resendSeconds = resendSeconds;
            this.maxSendsPerPiece = maxSendsPerPiece;
            using (var sha = SHA256.Create()) Hash = sha.ComputeHash(file);
            int count = (file.Length + pieceSize - 1) / pieceSize;
            pieces = new PieceState[count];
            for (int i = 0; i < count; i++)
                pieces[i] = new PieceState { Offset = (long)i * pieceSize, Length = Math.Min(pieceSize, file.Length - i * pieceSize) };
        }

        public byte[] Hash { get; }
        public long Size => file.Length;
        public int PieceCount => pieces.Length;

        /// <summary>Bytes the daemon said it holds (from its last ack).</summary>
        public long Received { get; private set; }

        /// <summary>The daemon has the whole file, hash checked and image decoded.</summary>
        public bool Complete { get; private set; }

        /// <summary>A piece was sent the maximum number of times without an ack.</summary>
        public bool GaveUp { get; private set; }

        public int InFlight
        {
            get
            {
                int count = 0;
                for (int i = 0; i < nextUnsent; i++)
                    if (!pieces[i].Acked) count++;
                return count;
            }
        }

        public byte[] DataOf(UploadPiece piece) => ByteArrays.Slice(file, (int)piece.Offset, piece.Length);

        /// <summary>
        /// Pieces to send now: overdue unacknowledged ones again, then new ones while fewer than 32 are in flight.
        /// When every piece is acknowledged but the daemon has not said complete, the first piece is re-sent
        /// every resend interval as a poll (the daemon answers a piece of a held file with its state).
        /// </summary>
        public List<UploadPiece> TakeDue(double now)
        {
            var due = new List<UploadPiece>();
            if (Complete || GaveUp) return due;
            for (int i = 0; i < nextUnsent; i++)
            {
                var p = pieces[i];
                if (p.Acked || now < p.SentAt + resendSeconds) continue;
                if (p.Sends >= maxSendsPerPiece)
                {
                    GaveUp = true;
                    return new List<UploadPiece>();
                }
                MarkSent(p, now, due);
            }
            int inFlight = InFlight;
            while (nextUnsent < pieces.Length && inFlight < maxInFlight)
            {
                MarkSent(pieces[nextUnsent++], now, due);
                inFlight++;
            }
            if (nextUnsent == pieces.Length && inFlight == 0 && double.IsNegativeInfinity(lastPollAt))
            {
                lastPollAt = now; // every piece acknowledged: give the daemon one resend interval to say complete
            }
            else if (nextUnsent == pieces.Length && inFlight == 0 && now >= lastPollAt + resendSeconds)
            {
                if (pieces[0].Sends >= maxSendsPerPiece)
                {
                    GaveUp = true;
                    return new List<UploadPiece>();
                }
                lastPollAt = now;
                MarkSent(pieces[0], now, due);
            }
            return due;
        }

        static void MarkSent(PieceState p, double now, List<UploadPiece> due)
        {
            p.Sends++;
            p.SentAt = now;
            due.Add(new UploadPiece(p.Offset, p.Length));
        }

        /// <summary>When <see cref="TakeDue"/> next has something to send, or null.</summary>
        public double? NextTimer()
        {
            if (Complete || GaveUp) return null;
            double? earliest = null;
            for (int i = 0; i < nextUnsent; i++)
            {
                var p = pieces[i];
                if (p.Acked) continue;
                double due = p.SentAt + resendSeconds;
                if (earliest == null || due < earliest) earliest = due;
            }
            if (nextUnsent < pieces.Length && InFlight < maxInFlight) return double.NegativeInfinity;
            if (nextUnsent == pieces.Length && earliest == null) earliest = lastPollAt + resendSeconds;
            return earliest;
        }

        /// <summary>Applies an ack; false when it is for another file.</summary>
        public bool OnAck(UploadAckMessage ack)
        {
            if (!ByteArrays.Equal(ack.Hash, Hash)) return false;
            Received = Math.Max(Received, ack.Received);
            if (ack.Complete)
            {
                Complete = true;
                Received = Size;
                return true;
            }
            foreach (var p in pieces)
                if (p.Offset == ack.Offset && p.Length == ack.Length) p.Acked = true;
            return true;
        }
    }
}
