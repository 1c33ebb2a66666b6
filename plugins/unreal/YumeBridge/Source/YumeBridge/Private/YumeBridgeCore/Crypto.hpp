// SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104) and the protocol's key schedule (SPEC §4).
//
// Self-contained so that the core needs no engine or OS crypto; checked against the RFC 4231-style
// vectors in protocol/vectors/auth.json.
#pragma once

#include "Common.hpp"

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace yumebridge {

using Digest = std::array<std::uint8_t, 32>;
using Tag = std::array<std::uint8_t, 16>;
using Nonce = std::array<std::uint8_t, 16>;

class Sha256 {
public:
    Sha256() { reset(); }

    void reset() {
        state_ = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                  0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
        buffered_ = 0;
        length_ = 0;
    }

    void update(ByteView bytes) {
        length_ += bytes.size;
        std::size_t i = 0;
        if (buffered_ > 0) {
            while (buffered_ < 64 && i < bytes.size) {
                buffer_[buffered_++] = bytes[i++];
            }
            if (buffered_ == 64) {
                compress(buffer_.data());
                buffered_ = 0;
            }
        }
        for (; i + 64 <= bytes.size; i += 64) {
            compress(bytes.data + i);
        }
        while (i < bytes.size) {
            buffer_[buffered_++] = bytes[i++];
        }
    }

    Digest finish() {
        const std::uint64_t bit_length = static_cast<std::uint64_t>(length_) * 8u;
        std::uint8_t padding[72] = {0x80};
        const std::size_t pad_length = (buffered_ < 56) ? (56 - buffered_) : (120 - buffered_);
        for (int i = 0; i < 8; ++i) {
            padding[pad_length + static_cast<std::size_t>(i)] =
                static_cast<std::uint8_t>((bit_length >> (56 - 8 * i)) & 0xFFu);
        }
        const std::uint64_t saved_length = length_;
        update(ByteView(padding, pad_length + 8));
        length_ = saved_length;
        Digest out{};
        for (std::size_t i = 0; i < 8; ++i) {
            out[4 * i] = static_cast<std::uint8_t>((state_[i] >> 24) & 0xFFu);
            out[4 * i + 1] = static_cast<std::uint8_t>((state_[i] >> 16) & 0xFFu);
            out[4 * i + 2] = static_cast<std::uint8_t>((state_[i] >> 8) & 0xFFu);
            out[4 * i + 3] = static_cast<std::uint8_t>(state_[i] & 0xFFu);
        }
        reset();
        return out;
    }

    static Digest hash(ByteView bytes) {
        Sha256 hasher;
        hasher.update(bytes);
        return hasher.finish();
    }

private:
    static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

    void compress(const std::uint8_t* block) {
        static constexpr std::uint32_t kRound[64] = {
            0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
            0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
            0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
            0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
            0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
            0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
            0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
            0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
        };
        std::uint32_t w[64];
        for (std::size_t i = 0; i < 16; ++i) {
            w[i] = (static_cast<std::uint32_t>(block[4 * i]) << 24) | (static_cast<std::uint32_t>(block[4 * i + 1]) << 16) |
                   (static_cast<std::uint32_t>(block[4 * i + 2]) << 8) | static_cast<std::uint32_t>(block[4 * i + 3]);
        }
        for (std::size_t i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
        std::uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
        for (std::size_t i = 0; i < 64; ++i) {
            const std::uint32_t big_sigma1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
            const std::uint32_t choose = (e & f) ^ (~e & g);
            const std::uint32_t t1 = h + big_sigma1 + choose + kRound[i] + w[i];
            const std::uint32_t big_sigma0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
            const std::uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
            const std::uint32_t t2 = big_sigma0 + majority;
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state_[0] += a;
        state_[1] += b;
        state_[2] += c;
        state_[3] += d;
        state_[4] += e;
        state_[5] += f;
        state_[6] += g;
        state_[7] += h;
    }

    std::array<std::uint32_t, 8> state_{};
    std::array<std::uint8_t, 64> buffer_{};
    std::size_t buffered_ = 0;
    std::uint64_t length_ = 0;
};

// HMAC-SHA256 over the concatenation of `parts`.
inline Digest hmac_sha256(ByteView key, std::initializer_list<ByteView> parts) {
    std::array<std::uint8_t, 64> block{};
    if (key.size > block.size()) {
        const Digest hashed = Sha256::hash(key);
        for (std::size_t i = 0; i < hashed.size(); ++i) {
            block[i] = hashed[i];
        }
    } else {
        for (std::size_t i = 0; i < key.size; ++i) {
            block[i] = key[i];
        }
    }
    std::array<std::uint8_t, 64> inner_pad{};
    std::array<std::uint8_t, 64> outer_pad{};
    for (std::size_t i = 0; i < block.size(); ++i) {
        inner_pad[i] = static_cast<std::uint8_t>(block[i] ^ 0x36u);
        outer_pad[i] = static_cast<std::uint8_t>(block[i] ^ 0x5cu);
    }
    Sha256 inner;
    inner.update(ByteView(inner_pad.data(), inner_pad.size()));
    for (const ByteView& part : parts) {
        inner.update(part);
    }
    const Digest inner_digest = inner.finish();
    Sha256 outer;
    outer.update(ByteView(outer_pad.data(), outer_pad.size()));
    outer.update(ByteView(inner_digest.data(), inner_digest.size()));
    return outer.finish();
}

inline Digest hmac_sha256(ByteView key, ByteView message) { return hmac_sha256(key, {message}); }

// Compares without an early exit, so that the time taken does not reveal where a forged tag differs.
inline bool constant_time_equal(ByteView a, ByteView b) {
    if (a.size != b.size) {
        return false;
    }
    std::uint8_t difference = 0;
    for (std::size_t i = 0; i < a.size; ++i) {
        difference = static_cast<std::uint8_t>(difference | (a[i] ^ b[i]));
    }
    return difference == 0;
}

// hello.auth = HMAC(token, "yume-bridge/1 hello" || client_nonce || cookie)[0:16]   (SPEC §4.2)
inline Tag hello_auth(std::string_view token, ByteView client_nonce, ByteView cookie) {
    const Digest digest = hmac_sha256(as_bytes(token), {as_bytes("yume-bridge/1 hello"), client_nonce, cookie});
    Tag out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = digest[i];
    }
    return out;
}

// session_key = HMAC(token, "yume-bridge/1 session" || client_nonce || server_nonce || u32le(session))
inline Digest session_key(std::string_view token, ByteView client_nonce, ByteView server_nonce, std::uint32_t session) {
    Bytes session_le;
    put_u32le(session_le, session);
    return hmac_sha256(as_bytes(token), {as_bytes("yume-bridge/1 session"), client_nonce, server_nonce, session_le});
}

// tag = HMAC(session_key, body)[0:16]   (SPEC §4.3)
inline Tag datagram_tag(const Digest& key, ByteView body) {
    const Digest digest = hmac_sha256(ByteView(key.data(), key.size()), body);
    Tag out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = digest[i];
    }
    return out;
}

}  // namespace yumebridge
