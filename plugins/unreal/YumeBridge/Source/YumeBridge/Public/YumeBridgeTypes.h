// Blueprint-facing types of the Yume Bridge plugin: session info, frame info, status and delegates.
#pragma once

#include "CoreMinimal.h"

#include "YumeBridgeTypes.generated.h"

class UTexture2D;

UENUM(BlueprintType)
enum class EYumeBridgeConnectionState : uint8
{
	Disconnected,
	Connecting,
	Connected,
	/** The session ended for a reason retrying may cure; the next attempt is scheduled (auto-reconnect). */
	WaitingToReconnect,
};

/** A daemon found on the network by DNS-SD (`_yume-bridge._udp.local.`). */
USTRUCT(BlueprintType)
struct YUMEBRIDGE_API FYumeBridgeDaemon
{
	GENERATED_BODY()

	/** Instance name, e.g. "studio-47800". */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	FString Name;

	/** An address to pass to Connect (IPv4 first), or the host name when no address was announced. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	FString Host;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 Port = 0;

	/** Every announced address, IPv4 first. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	TArray<FString> Addresses;

	/** The advertisement's TXT properties: protocol, version, backend, model, width, height, fps, token. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	TMap<FString, FString> Properties;

	/** The daemon says it needs a token (TXT token=required). */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	bool bNeedsToken = false;

	/** Session slots still free (TXT free); -1 when the daemon does not say. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 FreeSessions = -1;

	/** The daemon says it has no free session slot: connecting would get session_limit. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	bool bFull = false;
};

/** What the daemon told us in its welcome (SPEC §5.3). */
USTRUCT(BlueprintType)
struct YUMEBRIDGE_API FYumeBridgeSessionInfo
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int64 Session = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	FString DaemonVersion;

	/** "preview" or "yume". */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	FString Backend;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	FString Model;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	FString ModelVersion;

	/** Frame size of the stream; the frame texture has this size. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 Width = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 Height = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	float Fps = 0.f;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 FramesPerChunk = 0;

	/** Datagrams of this session carry HMAC tags (the daemon requires a token). */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	bool bAuthenticated = false;

	/** Name and version of the action vocabulary, e.g. "camera" / "yume1.5-camera-1". */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	FString VocabularyName;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	FString VocabularyVersion;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	TArray<FString> Capabilities;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 MaxEventChars = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 MaxPromptChars = 0;
};

/** Where a displayed frame came from (SPEC §6.1) and how long it took. */
USTRUCT(BlueprintType)
struct YUMEBRIDGE_API FYumeBridgeFrameInfo
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int64 Frame = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int64 Chunk = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 FrameInChunk = 0;

	/** Action id the model applied to this frame's chunk: movement * 9 + look (SPEC §7). */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 Action = 0;

	/** The action's movement and look symbols from the welcome's vocabulary, e.g. "W" and "→". */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	FString Movement;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	FString Look;

	/** Sequence number of the newest input the chunk consumed (0: none). */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int64 InputSeq = 0;

	/** From sending that input to this frame arriving complete, in ms; -1 when unknown. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	float InputToFrameMs = -1.f;

	/** JPEG decode time on the worker thread, in ms. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	float DecodeMs = 0.f;

	/**
	 * Frames that completed but were never displayed, so far in this session: replaced by a newer one
	 * before it left reassembly, dropped from a full queue, or skipped because more than two waited
	 * for the game thread (the game runs slower than the stream).
	 */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int64 FramesSkipped = 0;

	/** The latent (within its chunk) this frame was decoded from; 0 from daemons that do not say. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 Latent = 0;

	/**
	 * This frame starts a chunk that replaced one cut short because the input changed (pre-emption);
	 * CutLatents says how many latents of the cut chunk had been shown. A cut is not a loss.
	 */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	bool bAfterCut = false;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 CutLatents = 0;

	/** Chunks cut short so far in this session. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int64 ChunksCut = 0;
};

/** Readiness of the generator and the latency breakdown of the last chunk (SPEC §5.11). */
USTRUCT(BlueprintType)
struct YUMEBRIDGE_API FYumeBridgeStatus
{
	GENERATED_BODY()

	/** loading, warming, ready (no world yet), generating, paused or error. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	FString State;

	/** 0-1 while loading or warming, else 1. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	float Progress = 0.f;

	/** True when the generator is generating (the world is live). */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	bool bReady = false;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int64 World = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int64 Chunk = -1;

	/** Chunks waiting for the generator, all sessions. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 Queue = 0;

	/** Frames per second the daemon sent to this client over the last second. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	float SentFps = 0.f;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int64 FramesSent = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int32 Action = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int64 InputSeq = 0;

	/** Daemon side of the last chunk, in ms: waiting for the generator, the model, JPEG, first send. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	float QueueMs = 0.f;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	float GenerateMs = 0.f;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	float EncodeMs = 0.f;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	float SendMs = 0.f;

	/** Client side: smoothed round trip to the daemon, in ms (-1 before the first pong). */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	float RoundTripMs = -1.f;

	/** Client side: input sent to frame complete for the last displayed frame, in ms (-1: unknown). */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	float InputToFrameMs = -1.f;

	/** Client side: frames displayed in this session. */
	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	int64 FramesDisplayed = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Yume Bridge")
	FString Message;
};

DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FYumeBridgeConnectedSignature, const FYumeBridgeSessionInfo&, Info);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FYumeBridgeFrameSignature, UTexture2D*, Texture, const FYumeBridgeFrameInfo&, Info);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_ThreeParams(FYumeBridgeEventAcknowledgedSignature, int32, EventId, int64, Chunk, const TArray<int32>&, ActiveEvents);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FYumeBridgeStatusSignature, const FYumeBridgeStatus&, Status);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FYumeBridgeErrorSignature, const FString&, Code, const FString&, Reason);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FYumeBridgeStartedSignature, int64, World, int64, Seed);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FYumeBridgeDisconnectedSignature, const FString&, Reason);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FYumeBridgeDaemonsFoundSignature, const TArray<FYumeBridgeDaemon>&, Daemons);
