// A small baseline (sequential Huffman, 8-bit) JPEG decoder in safe C#, so that frames can be decoded
// off the main thread: Unity's Texture2D.LoadImage decodes on the main thread only (peers.md §2.12).
using System;

namespace Yume.Bridge.Core
{
    /// <summary>How decoded pixels are laid out: RGBA32 is what GPUs take without conversion (alpha 255).</summary>
    public enum PixelLayout { Rgb24 = 3, Rgba32 = 4 }

    /// <summary>
    /// Decoded pixels as RGB24 or RGBA32 rows (top-down, or bottom-up for Texture2D.GetRawTextureData). Reusable:
    /// pass it back to <see cref="BaselineJpegDecoder.DecodeInto"/> and its buffer is refilled without allocation.
    /// </summary>
    public sealed class DecodedImage
    {
        public DecodedImage(int width, int height, byte[] rgb, bool bottomUp, PixelLayout layout = PixelLayout.Rgb24)
        {
            Width = width;
            Height = height;
            Pixels = rgb;
            BottomUp = bottomUp;
            Layout = layout;
        }

        /// <summary>An empty image to decode into.</summary>
        public DecodedImage() : this(0, 0, new byte[0], false) { }

        public int Width { get; private set; }
        public int Height { get; private set; }

        /// <summary>Width · Height · BytesPerPixel bytes (the array may be longer when it was reused).</summary>
        public byte[] Pixels { get; private set; }

        public PixelLayout Layout { get; private set; }
        public int BytesPerPixel => (int)Layout;
        public int ByteCount => Width * Height * BytesPerPixel;
        public bool BottomUp { get; private set; }

        internal void Reset(int width, int height, bool bottomUp, PixelLayout layout)
        {
            Width = width;
            Height = height;
            BottomUp = bottomUp;
            Layout = layout;
            int size = width * height * (int)layout;
            if (Pixels == null || Pixels.Length < size) Pixels = new byte[size];
        }
    }

    /// <summary>
    /// Decodes baseline and extended-sequential 8-bit Huffman JPEGs with any sampling factors, restart
    /// intervals and interleaved or single-component scans; 4:2:0 chroma is upsampled with libjpeg's triangle filter. Progressive
    /// and arithmetic-coded files throw <see cref="NotSupportedException"/>. Not thread-safe: use one per thread.
    /// </summary>
    public sealed class BaselineJpegDecoder
    {
        static readonly int[] ZigZag =
        {
            0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
            28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
            54, 47, 55, 62, 63,
        };

        static readonly double[] AanScale = { 1.0, 1.387039845, 1.306562965, 1.175875602, 1.0, 0.785694958, 0.541196100, 0.275899379 };

        sealed class Component
        {
            public int Id, H, V, QuantTable, DcTable, AcTable, Pred;
            public int BlocksPerLine, BlocksPerColumn, Stride;
            public byte[] Plane;
        }

        sealed class HuffmanTable
        {
            public readonly ushort[] Fast = new ushort[1 << FastBits]; // (length << 8) | symbol, 0 = slow path
            public readonly int[] MaxCode = new int[18];
            public readonly int[] ValPtr = new int[17];
            public readonly byte[] Values = new byte[256];
        }

        const int FastBits = 9;
        readonly float[][] quant = { new float[64], new float[64], new float[64], new float[64] };
        readonly HuffmanTable[] dcTables = new HuffmanTable[4];
        readonly HuffmanTable[] acTables = new HuffmanTable[4];
        readonly int[] coefficients = new int[64];
        readonly float[] workspace = new float[64];
        readonly int[] huffmanCounts = new int[17];
        // Reused across decodes so that a steady stream allocates nothing.
        readonly Component[] componentStore = { new Component(), new Component(), new Component() };
        readonly Component[][] componentsByCount = { null, new Component[1], new Component[2], new Component[3] };
        readonly Component[][] scansByCount = { null, new Component[1], new Component[2], new Component[3] };
        int[] cbLine = new int[0], crLine = new int[0];
        Component[] components;
        int width, height, hMax, vMax, mcusPerLine, mcusPerColumn, restartInterval;

        // Entropy-coded data reader.
        byte[] data;
        int dataLength;
        int position;
        uint bitBuffer;
        int bitCount;
        bool hitMarker;

        /// <summary>Decodes a JPEG into RGB24; <paramref name="reuse"/> is filled when it is large enough.</summary>
        public DecodedImage Decode(byte[] jpeg, bool bottomUp, byte[] reuse = null)
        {
            var image = new DecodedImage(0, 0, reuse, bottomUp);
            DecodeInto(jpeg, jpeg.Length, bottomUp, PixelLayout.Rgb24, image);
            return image;
        }

        /// <summary>
        /// Decodes <c>jpeg[0 .. length)</c> into <paramref name="into"/>, reusing its buffer: once the buffers have grown
        /// to the stream's frame size, a decode allocates nothing.
        /// </summary>
        public void DecodeInto(byte[] jpeg, int length, bool bottomUp, PixelLayout layout, DecodedImage into)
        {
            if (into == null) throw new ArgumentNullException(nameof(into));
            if (length > jpeg.Length) throw new ArgumentException("length exceeds the buffer");
            data = jpeg;
            dataLength = length;
            position = 0;
            components = null;
            restartInterval = 0;
            if (length < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) throw new FormatException("not a JPEG (no SOI)");
            position = 2;
            bool scanned = false;
            while (position < length)
            {
                int marker = NextMarker();
                if (marker == 0xD9 || marker < 0) break;
                if (marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) continue;
                int segmentLength = ReadU16();
                int segmentEnd = position + segmentLength - 2;
                if (segmentLength < 2 || segmentEnd > length) throw new FormatException("segment runs past the end");
                switch (marker)
                {
                    case 0xDB: ReadQuantTables(segmentEnd); break;
                    case 0xC4: ReadHuffmanTables(segmentEnd); break;
                    case 0xDD: restartInterval = (jpeg[position] << 8) | jpeg[position + 1]; break;
                    case 0xC0:
                    case 0xC1: ReadFrame(); break;
                    case 0xDA:
                        ReadScan(segmentEnd);
                        scanned = true;
                        continue; // ReadScan leaves position after the entropy-coded data
                    default:
                        if (marker >= 0xC2 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC)
                            throw new NotSupportedException($"JPEG SOF 0x{marker:X2} (progressive, lossless or arithmetic) is not supported");
                        break;
                }
                position = segmentEnd;
            }
            if (!scanned || components == null) throw new FormatException("JPEG has no frame or no scan");
            ToPixels(bottomUp, layout, into);
            data = null;
        }

        int NextMarker()
        {
            while (position < dataLength && data[position] != 0xFF) position++;
            while (position < dataLength && data[position] == 0xFF) position++;
            if (position >= dataLength) return -1;
            return data[position++];
        }

        int ReadU16()
        {
            if (position + 2 > dataLength) throw new FormatException("JPEG ends inside a segment");
            int value = (data[position] << 8) | data[position + 1];
            position += 2;
            return value;
        }

        void ReadQuantTables(int end)
        {
            while (position < end)
            {
                int pq = data[position] >> 4, tq = data[position] & 15;
                position++;
                if (tq > 3) throw new FormatException("quantization table id > 3");
                var table = quant[tq];
                for (int k = 0; k < 64; k++)
                {
                    int q = pq == 0 ? data[position++] : (data[position++] << 8) | data[position++];
                    int natural = ZigZag[k];
                    // AAN scaling and the final 1/8 are folded into the dequantization (as in libjpeg's float IDCT).
                    table[natural] = (float)(q * AanScale[natural >> 3] * AanScale[natural & 7] * 0.125);
                }
            }
        }

        void ReadHuffmanTables(int end)
        {
            while (position < end)
            {
                int tc = data[position] >> 4, th = data[position] & 15;
                position++;
                if (th > 3 || tc > 1) throw new FormatException("bad Huffman table id");
                var table = (tc == 0 ? dcTables : acTables)[th] ?? new HuffmanTable();
                Array.Clear(table.Fast, 0, table.Fast.Length);
                var counts = huffmanCounts;
                int total = 0;
                for (int l = 1; l <= 16; l++)
                {
                    counts[l] = data[position++];
                    total += counts[l];
                }
                if (total > 256) throw new FormatException("Huffman table with more than 256 symbols");
                Buffer.BlockCopy(data, position, table.Values, 0, total);
                position += total;
                int code = 0, k = 0;
                for (int l = 1; l <= 16; l++)
                {
                    table.ValPtr[l] = k - code;
                    for (int i = 0; i < counts[l]; i++, k++, code++)
                    {
                        if (l <= FastBits)
                        {
                            int first = code << (FastBits - l), count = 1 << (FastBits - l);
                            for (int j = 0; j < count; j++) table.Fast[first + j] = (ushort)((l << 8) | table.Values[k]);
                        }
                    }
                    table.MaxCode[l] = counts[l] > 0 ? code - 1 : -1;
                    code <<= 1;
                }
                table.MaxCode[17] = int.MaxValue;
                if (tc == 0) dcTables[th] = table;
                else acTables[th] = table;
            }
        }

        void ReadFrame()
        {
            int precision = data[position];
            if (precision != 8) throw new NotSupportedException($"{precision}-bit JPEG is not supported");
            height = (data[position + 1] << 8) | data[position + 2];
            width = (data[position + 3] << 8) | data[position + 4];
            int count = data[position + 5];
            if (width < 1 || height < 1 || (count != 1 && count != 3)) throw new FormatException("JPEG with no size or an unsupported component count");
            if (position + 6 + count * 3 > dataLength) throw new FormatException("JPEG ends inside the frame header");
            components = componentsByCount[count];
            hMax = vMax = 1;
            for (int i = 0; i < count; i++)
            {
                int o = position + 6 + i * 3;
                var c = componentStore[i];
                c.Id = data[o];
                c.H = data[o + 1] >> 4;
                c.V = data[o + 1] & 15;
                c.QuantTable = data[o + 2] & 3;
                if (c.H < 1 || c.H > 4 || c.V < 1 || c.V > 4) throw new FormatException("bad sampling factors");
                hMax = Math.Max(hMax, c.H);
                vMax = Math.Max(vMax, c.V);
                components[i] = c;
            }
            mcusPerLine = (width + 8 * hMax - 1) / (8 * hMax);
            mcusPerColumn = (height + 8 * vMax - 1) / (8 * vMax);
            foreach (var c in components)
            {
                c.BlocksPerLine = mcusPerLine * c.H;
                c.BlocksPerColumn = mcusPerColumn * c.V;
                c.Stride = c.BlocksPerLine * 8;
                int planeSize = c.Stride * c.BlocksPerColumn * 8;
                if (c.Plane == null || c.Plane.Length < planeSize) c.Plane = new byte[planeSize];
            }
        }

        void ReadScan(int headerEnd)
        {
            if (components == null) throw new FormatException("scan before frame");
            int count = data[position++];
            if (count < 1 || count > components.Length) throw new FormatException("scan with more components than the frame");
            var scan = scansByCount[count];
            for (int i = 0; i < count; i++)
            {
                int id = data[position++], tables = data[position++];
                scan[i] = FindComponent(id) ?? throw new FormatException("scan names an unknown component");
                scan[i].DcTable = tables >> 4;
                scan[i].AcTable = tables & 15;
                if (dcTables[scan[i].DcTable] == null || acTables[scan[i].AcTable] == null) throw new FormatException("scan uses a missing Huffman table");
                scan[i].Pred = 0;
            }
            position = headerEnd;
            bitBuffer = 0;
            bitCount = 0;
            hitMarker = false;
            if (count == 1) DecodeSingleComponentScan(scan[0]);
            else DecodeInterleavedScan(scan);
            // Skip to the next marker (past padding bits and any trailing fill bytes).
            while (position + 1 < dataLength && !(data[position] == 0xFF && data[position + 1] != 0 && (data[position + 1] < 0xD0 || data[position + 1] > 0xD7)))
                position++;
        }

        Component FindComponent(int id)
        {
            for (int i = 0; i < components.Length; i++)
                if (components[i].Id == id) return components[i];
            return null;
        }

        void DecodeInterleavedScan(Component[] scan)
        {
            int mcu = 0, total = mcusPerLine * mcusPerColumn;
            for (int my = 0; my < mcusPerColumn; my++)
                for (int mx = 0; mx < mcusPerLine; mx++, mcu++)
                {
                    if (restartInterval > 0 && mcu > 0 && mcu % restartInterval == 0 && mcu < total) Restart(scan);
                    foreach (var c in scan)
                        for (int by = 0; by < c.V; by++)
                            for (int bx = 0; bx < c.H; bx++)
                                DecodeBlock(c, (mx * c.H + bx) * 8, (my * c.V + by) * 8);
                }
        }

        void DecodeSingleComponentScan(Component c)
        {
            // A non-interleaved scan covers only the blocks inside the component's own size.
            int compWidth = (width * c.H + hMax - 1) / hMax, compHeight = (height * c.V + vMax - 1) / vMax;
            int blocksX = (compWidth + 7) / 8, blocksY = (compHeight + 7) / 8, n = 0;
            for (int by = 0; by < blocksY; by++)
                for (int bx = 0; bx < blocksX; bx++, n++)
                {
                    if (restartInterval > 0 && n > 0 && n % restartInterval == 0) Restart(scansByCount[1]);
                    DecodeBlock(c, bx * 8, by * 8);
                }
        }

        void Restart(Component[] scan)
        {
            bitBuffer = 0;
            bitCount = 0;
            hitMarker = false;
            while (position + 1 < dataLength && !(data[position] == 0xFF && data[position + 1] >= 0xD0 && data[position + 1] <= 0xD7))
                position++;
            position += 2;
            foreach (var c in scan) c.Pred = 0;
        }

        void DecodeBlock(Component c, int x, int y)
        {
            var coef = coefficients;
            Array.Clear(coef, 0, 64);
            int t = DecodeHuffman(dcTables[c.DcTable]);
            int diff = t == 0 ? 0 : Extend(GetBits(t), t);
            c.Pred += diff;
            coef[0] = c.Pred;
            var ac = acTables[c.AcTable];
            for (int k = 1; k < 64;)
            {
                int rs = DecodeHuffman(ac);
                int r = rs >> 4, s = rs & 15;
                if (s == 0)
                {
                    if (r != 15) break; // end of block
                    k += 16;
                    continue;
                }
                k += r;
                if (k > 63) break;
                coef[ZigZag[k]] = Extend(GetBits(s), s);
                k++;
            }
            InverseDct(coef, quant[c.QuantTable], c.Plane, y * c.Stride + x, c.Stride);
        }

        static int Extend(int value, int bits) => value < (1 << (bits - 1)) ? value - (1 << bits) + 1 : value;

        void Fill()
        {
            while (bitCount <= 24)
            {
                int b = 0;
                if (!hitMarker && position < dataLength)
                {
                    b = data[position];
                    if (b == 0xFF)
                    {
                        int next = position + 1 < dataLength ? data[position + 1] : 0xD9;
                        if (next == 0x00) position += 2;
                        else
                        {
                            hitMarker = true; // a marker ends the entropy-coded data: feed zeros
                            b = 0;
                        }
                    }
                    else position++;
                }
                bitBuffer |= (uint)b << (24 - bitCount);
                bitCount += 8;
            }
        }

        int GetBits(int n)
        {
            if (bitCount < n) Fill();
            int value = (int)(bitBuffer >> (32 - n));
            bitBuffer <<= n;
            bitCount -= n;
            return value;
        }

        int DecodeHuffman(HuffmanTable table)
        {
            if (bitCount < 16) Fill();
            int fast = table.Fast[bitBuffer >> (32 - FastBits)];
            if (fast != 0)
            {
                int length = fast >> 8;
                bitBuffer <<= length;
                bitCount -= length;
                return fast & 0xFF;
            }
            int code = 0;
            for (int l = 1; l <= 16; l++)
            {
                code = (code << 1) | (int)(bitBuffer >> 31);
                bitBuffer <<= 1;
                bitCount--;
                if (code <= table.MaxCode[l]) return table.Values[table.ValPtr[l] + code];
            }
            throw new FormatException("bad Huffman code");
        }

        /// <summary>libjpeg's float AAN inverse DCT; the quantization table already carries the AAN scale and 1/8.</summary>
        void InverseDct(int[] input, float[] q, byte[] output, int offset, int stride)
        {
            var ws = workspace;
            for (int col = 0; col < 8; col++)
            {
                if (input[8 + col] == 0 && input[16 + col] == 0 && input[24 + col] == 0 && input[32 + col] == 0 &&
                    input[40 + col] == 0 && input[48 + col] == 0 && input[56 + col] == 0)
                {
                    float dc = input[col] * q[col];
                    for (int row = 0; row < 8; row++) ws[row * 8 + col] = dc;
                    continue;
                }
                float tmp0 = input[col] * q[col], tmp1 = input[16 + col] * q[16 + col];
                float tmp2 = input[32 + col] * q[32 + col], tmp3 = input[48 + col] * q[48 + col];
                float tmp10 = tmp0 + tmp2, tmp11 = tmp0 - tmp2, tmp13 = tmp1 + tmp3;
                float tmp12 = (tmp1 - tmp3) * 1.414213562f - tmp13;
                tmp0 = tmp10 + tmp13;
                tmp3 = tmp10 - tmp13;
                tmp1 = tmp11 + tmp12;
                tmp2 = tmp11 - tmp12;
                float tmp4 = input[8 + col] * q[8 + col], tmp5 = input[24 + col] * q[24 + col];
                float tmp6 = input[40 + col] * q[40 + col], tmp7 = input[56 + col] * q[56 + col];
                OddPart(tmp4, tmp5, tmp6, tmp7, out tmp4, out tmp5, out tmp6, out tmp7);
                ws[col] = tmp0 + tmp7;
                ws[56 + col] = tmp0 - tmp7;
                ws[8 + col] = tmp1 + tmp6;
                ws[48 + col] = tmp1 - tmp6;
                ws[16 + col] = tmp2 + tmp5;
                ws[40 + col] = tmp2 - tmp5;
                ws[24 + col] = tmp3 + tmp4;
                ws[32 + col] = tmp3 - tmp4;
            }
            for (int row = 0; row < 8; row++)
            {
                int w = row * 8, o = offset + row * stride;
                float z5 = ws[w] + 128.5f; // level shift, and + 0.5 so that truncation rounds
                float tmp10 = z5 + ws[w + 4], tmp11 = z5 - ws[w + 4], tmp13 = ws[w + 2] + ws[w + 6];
                float tmp12 = (ws[w + 2] - ws[w + 6]) * 1.414213562f - tmp13;
                float tmp0 = tmp10 + tmp13, tmp3 = tmp10 - tmp13, tmp1 = tmp11 + tmp12, tmp2 = tmp11 - tmp12;
                float tmp4, tmp5, tmp6, tmp7;
                OddPart(ws[w + 1], ws[w + 3], ws[w + 5], ws[w + 7], out tmp4, out tmp5, out tmp6, out tmp7);
                output[o] = Clamp(tmp0 + tmp7);
                output[o + 7] = Clamp(tmp0 - tmp7);
                output[o + 1] = Clamp(tmp1 + tmp6);
                output[o + 6] = Clamp(tmp1 - tmp6);
                output[o + 2] = Clamp(tmp2 + tmp5);
                output[o + 5] = Clamp(tmp2 - tmp5);
                output[o + 3] = Clamp(tmp3 + tmp4);
                output[o + 4] = Clamp(tmp3 - tmp4);
            }
        }

        static void OddPart(float in1, float in3, float in5, float in7, out float tmp4, out float tmp5, out float tmp6, out float tmp7)
        {
            float z13 = in5 + in3, z10 = in5 - in3, z11 = in1 + in7, z12 = in1 - in7;
            tmp7 = z11 + z13;
            float tmp11 = (z11 - z13) * 1.414213562f;
            float z5 = (z10 + z12) * 1.847759065f;
            float tmp10 = z5 - z12 * 1.082392200f;
            float tmp12 = z5 - z10 * 2.613125930f;
            tmp6 = tmp12 - tmp7;
            tmp5 = tmp11 - tmp6;
            tmp4 = tmp10 - tmp5;
        }

        static byte Clamp(float value)
        {
            int v = (int)value;
            return v < 0 ? (byte)0 : v > 255 ? (byte)255 : (byte)v;
        }

        // ---- colour -------------------------------------------------------------------------------

        static readonly int[] CrToR = new int[256], CbToB = new int[256], CrToG = new int[256], CbToG = new int[256];

        static BaselineJpegDecoder()
        {
            // As libjpeg's jdcolor.c: 16-bit fixed point, rounded.
            for (int i = 0; i < 256; i++)
            {
                int x = i - 128;
                CrToR[i] = (Fix(1.40200) * x + 32768) >> 16;
                CbToB[i] = (Fix(1.77200) * x + 32768) >> 16;
                CrToG[i] = -Fix(0.71414) * x;
                CbToG[i] = -Fix(0.34414) * x + 32768;
            }
        }

        static int Fix(double x) => (int)(x * 65536 + 0.5);

        int[] ChromaLine(Component c, ref int[] line)
        {
            int needed = Math.Max(width, ((width * c.H + hMax - 1) / hMax) * (hMax / c.H)) + 2;
            if (line.Length < needed) line = new int[needed];
            return line;
        }

        /// <summary>
        /// One output row of a chroma component at full resolution: libjpeg's "fancy" triangle filter for the
        /// common 2×2 subsampling (4:2:0), replication otherwise. Edges replicate the last real sample.
        /// </summary>
        void UpsampleRow(Component c, int outRow, int[] line)
        {
            int fx = hMax / c.H, fy = vMax / c.V;
            int compWidth = (width * c.H + hMax - 1) / hMax, compHeight = (height * c.V + vMax - 1) / vMax;
            var p = c.Plane;
            if (fx != 2 || fy != 2)
            {
                int src = (outRow / fy) * c.Stride;
                for (int col = 0; col < width; col++) line[col] = p[src + col / fx];
                return;
            }
            int r = outRow >> 1;
            int near = (outRow & 1) == 0 ? Math.Max(0, r - 1) : Math.Min(compHeight - 1, r + 1);
            int a = r * c.Stride, b = near * c.Stride;
            int thisSum = p[a] * 3 + p[b];
            if (compWidth == 1)
            {
                line[0] = (thisSum * 4 + 8) >> 4;
                line[1] = (thisSum * 4 + 7) >> 4;
                return;
            }
            int nextSum = p[a + 1] * 3 + p[b + 1];
            line[0] = (thisSum * 4 + 8) >> 4;
            line[1] = (thisSum * 3 + nextSum + 7) >> 4;
            int lastSum = thisSum;
            thisSum = nextSum;
            for (int col = 1; col < compWidth - 1; col++)
            {
                nextSum = p[a + col + 1] * 3 + p[b + col + 1];
                line[2 * col] = (thisSum * 3 + lastSum + 8) >> 4;
                line[2 * col + 1] = (thisSum * 3 + nextSum + 7) >> 4;
                lastSum = thisSum;
                thisSum = nextSum;
            }
            line[2 * compWidth - 2] = (thisSum * 3 + lastSum + 8) >> 4;
            line[2 * compWidth - 1] = (thisSum * 4 + 7) >> 4;
        }

        void ToPixels(bool bottomUp, PixelLayout layout, DecodedImage into)
        {
            into.Reset(width, height, bottomUp, layout);
            var rgb = into.Pixels;
            int bpp = (int)layout;
            bool alpha = layout == PixelLayout.Rgba32;
            var y = components[0];
            if (components.Length == 1)
            {
                for (int row = 0; row < height; row++)
                {
                    int o = (bottomUp ? height - 1 - row : row) * width * bpp, src = row * y.Stride;
                    for (int col = 0; col < width; col++, o += bpp)
                    {
                        rgb[o] = rgb[o + 1] = rgb[o + 2] = y.Plane[src + col];
                        if (alpha) rgb[o + 3] = 255;
                    }
                }
                return;
            }
            Component cb = components[1], cr = components[2];
            int yH = hMax / y.H, yV = vMax / y.V;
            var cbRow = ChromaLine(cb, ref cbLine);
            var crRow = ChromaLine(cr, ref crLine);
            for (int row = 0; row < height; row++)
            {
                int o = (bottomUp ? height - 1 - row : row) * width * bpp;
                int yRow = (row / yV) * y.Stride;
                UpsampleRow(cb, row, cbRow);
                UpsampleRow(cr, row, crRow);
                for (int col = 0; col < width; col++, o += bpp)
                {
                    int luma = y.Plane[yRow + col / yH];
                    int blue = cbRow[col], red = crRow[col];
                    int r = luma + CrToR[red];
                    int g = luma + ((CbToG[blue] + CrToG[red]) >> 16);
                    int b = luma + CbToB[blue];
                    rgb[o] = (byte)(r < 0 ? 0 : r > 255 ? 255 : r);
                    rgb[o + 1] = (byte)(g < 0 ? 0 : g > 255 ? 255 : g);
                    rgb[o + 2] = (byte)(b < 0 ? 0 : b > 255 ? 255 : b);
                    if (alpha) rgb[o + 3] = 255;
                }
            }
        }
    }
}
