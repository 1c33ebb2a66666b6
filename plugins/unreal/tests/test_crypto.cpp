// SHA-256 (FIPS 180-4 examples) and HMAC-SHA256 (RFC 4231) beyond the protocol's own vectors.
#include "YumeBridgeCore/Crypto.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace yumebridge;

namespace {

std::string hex_digest(const Digest& digest) { return to_hex(ByteView(digest.data(), digest.size())); }

Bytes repeat(std::uint8_t byte, std::size_t count) { return Bytes(count, byte); }

}  // namespace

TEST_CASE("SHA-256 matches the FIPS 180-4 examples") {
    CHECK(hex_digest(Sha256::hash(as_bytes(""))) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hex_digest(Sha256::hash(as_bytes("abc"))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hex_digest(Sha256::hash(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(hex_digest(Sha256::hash(repeat('a', 1000000))) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-256 gives the same digest whatever the update boundaries") {
    Bytes data(1000);
    for (std::size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<std::uint8_t>(i * 7);
    }
    const Digest whole = Sha256::hash(data);
    for (std::size_t step : {1u, 3u, 63u, 64u, 65u, 127u, 999u}) {
        Sha256 hasher;
        for (std::size_t offset = 0; offset < data.size(); offset += step) {
            hasher.update(ByteView(data).sub(offset, step));
        }
        CHECK(hasher.finish() == whole);
    }
    // Lengths around the padding boundary (55, 56, 63, 64 bytes).
    CHECK(hex_digest(Sha256::hash(repeat('a', 55))) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    CHECK(hex_digest(Sha256::hash(repeat('a', 56))) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    CHECK(hex_digest(Sha256::hash(repeat('a', 64))) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST_CASE("HMAC-SHA256 matches RFC 4231") {
    // Test case 1
    CHECK(hex_digest(hmac_sha256(repeat(0x0b, 20), as_bytes("Hi There"))) ==
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    // Test case 2
    CHECK(hex_digest(hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // Test case 3
    CHECK(hex_digest(hmac_sha256(repeat(0xaa, 20), repeat(0xdd, 50))) ==
          "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    // Test case 6: a key longer than the block is hashed first
    CHECK(hex_digest(hmac_sha256(repeat(0xaa, 131), as_bytes("Test Using Larger Than Block-Size Key - Hash Key First"))) ==
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    // Test case 7
    CHECK(hex_digest(hmac_sha256(repeat(0xaa, 131),
                                 as_bytes("This is a test using a larger than block-size key and a larger than block-size "
                                          "data. The key needs to be hashed before being used by the HMAC algorithm."))) ==
          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST_CASE("HMAC over parts equals HMAC over their concatenation, a 64-byte key is used as is") {
    const Bytes key = repeat(0x42, 64);
    const Digest joined = hmac_sha256(key, as_bytes("yume-bridge/1 hello0123456789"));
    CHECK(hmac_sha256(key, {as_bytes("yume-bridge/1 hello"), as_bytes("01234"), as_bytes("56789")}) == joined);
    CHECK(hmac_sha256(repeat(0x42, 65), as_bytes("x")) != hmac_sha256(repeat(0x42, 64), as_bytes("x")));
}

TEST_CASE("constant_time_equal compares contents and lengths") {
    const Bytes a{1, 2, 3};
    const Bytes b{1, 2, 4};
    CHECK(constant_time_equal(a, a));
    CHECK_FALSE(constant_time_equal(a, b));
    CHECK_FALSE(constant_time_equal(a, Bytes{1, 2}));
}

TEST_CASE("session keys differ by session, nonce and token") {
    const Bytes client_nonce(16, 1);
    const Bytes server_nonce(16, 2);
    const Digest base = session_key("token", client_nonce, server_nonce, 7);
    CHECK(session_key("token", client_nonce, server_nonce, 8) != base);
    CHECK(session_key("token", server_nonce, client_nonce, 7) != base);
    CHECK(session_key("other", client_nonce, server_nonce, 7) != base);
    const Tag tag = datagram_tag(base, as_bytes("{\"type\":\"ping\"}"));
    CHECK(tag != datagram_tag(base, as_bytes("{\"type\":\"pong\"}")));
}
