// Reads a JPEG's frame header (SOFn marker) without decoding: size, components, chroma subsampling.
using System;

namespace Yume.Bridge.Core
{
    public sealed class JpegInfo
    {
        JpegInfo(int marker, int width, int height, int components, int precision, int lumaH, int lumaV, bool endsWithEoi)
        {
            Marker = marker;
            Width = width;
            Height = height;
            Components = components;
            Precision = precision;
            LumaHorizontalSampling = lumaH;
            LumaVerticalSampling = lumaV;
            EndsWithEoi = endsWithEoi;
        }

        /// <summary>The SOF marker's second byte: 0xC0 baseline, 0xC1 extended, 0xC2 progressive, ...</summary>
        public int Marker { get; }
        public int Width { get; }
        public int Height { get; }
        public int Components { get; }
        public int Precision { get; }
        public int LumaHorizontalSampling { get; }
        public int LumaVerticalSampling { get; }
        public bool EndsWithEoi { get; }

        public bool IsBaseline => Marker == 0xC0;

        /// <summary>Three components with luma sampled 2×2 relative to chroma (1×1): YCbCr 4:2:0.</summary>
        public bool IsYCbCr420 => Components == 3 && LumaHorizontalSampling == 2 && LumaVerticalSampling == 2;

        /// <summary>Walks the marker segments up to the first SOFn; null with a reason when the bytes are not a JPEG.</summary>
        public static JpegInfo TryRead(byte[] jpeg, out string reason)
        {
            reason = null;
            if (jpeg == null || jpeg.Length < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8)
            {
                reason = "no SOI marker (not a JPEG)";
                return null;
            }
            bool endsWithEoi = jpeg[jpeg.Length - 2] == 0xFF && jpeg[jpeg.Length - 1] == 0xD9;
            int p = 2;
            while (p + 4 <= jpeg.Length)
            {
                if (jpeg[p] != 0xFF)
                {
                    reason = $"expected a marker at byte {p}";
                    return null;
                }
                int marker = jpeg[p + 1];
                if (marker == 0xFF)
                {
                    p++; // fill byte
                    continue;
                }
                if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01)
                {
                    p += 2; // markers without a length
                    continue;
                }
                if (marker == 0xD9 || marker == 0xDA)
                {
                    reason = "no SOF marker before the scan";
                    return null;
                }
                int length = (jpeg[p + 2] << 8) | jpeg[p + 3];
                if (length < 2 || p + 2 + length > jpeg.Length)
                {
                    reason = $"segment 0xFF{marker:X2} runs past the end";
                    return null;
                }
                bool isSof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
                if (isSof)
                {
                    if (length < 8)
                    {
                        reason = "SOF segment too short";
                        return null;
                    }
                    int precision = jpeg[p + 4];
                    int height = (jpeg[p + 5] << 8) | jpeg[p + 6];
                    int width = (jpeg[p + 7] << 8) | jpeg[p + 8];
                    int components = jpeg[p + 9];
                    if (length < 8 + 3 * components)
                    {
                        reason = "SOF segment shorter than its components";
                        return null;
                    }
                    int sampling = components > 0 ? jpeg[p + 11] : 0x11;
                    return new JpegInfo(marker, width, height, components, precision, sampling >> 4, sampling & 0x0F, endsWithEoi);
                }
                p += 2 + length;
            }
            reason = "no SOF marker";
            return null;
        }
    }
}
