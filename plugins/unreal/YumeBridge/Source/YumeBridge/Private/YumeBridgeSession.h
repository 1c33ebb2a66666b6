// One connection to the daemon: the protocol core, its UDP socket on a network thread, and a JPEG
// decoder thread. The game thread talks to it through thread-safe calls and polls its events and
// its decoded frames; it never blocks on the network.
//
// Threads: the network thread owns the socket's receive side and drives the core's timers; the game
// thread's requests go straight into the core under CoreLock and are sent at once; the decoder thread
// turns complete JPEGs into BGRA pixels, oldest first. Every hand-off keeps frames in order in a
// bounded queue (yumebridge::FrameQueue, kFrameQueueCapacity frames; when full, the oldest is dropped),
// so that the two frames the core releases together after a repair (SPEC §6.3) are both shown, on
// consecutive game-thread ticks; a game thread slower than the stream skips to the newest.
#pragma once

#include "CoreMinimal.h"
#include "HAL/Runnable.h"
#include "Containers/Queue.h"
#include "YumeBridgeTypes.h"

#include "YumeBridgeCore/YumeBridgeCore.hpp"

#include <atomic>

class FEvent;
class FInternetAddr;
class FRunnableThread;
class FSocket;
class IImageWrapperModule;
class ISocketSubsystem;

struct FYumeBridgeConnectOptions
{
	FString Host = TEXT("127.0.0.1");
	int32 Port = 47800;
	FString Token;
	bool bRequireAuthentication = false;
	bool bUseJson = false;
	int32 Width = 0;
	int32 Height = 0;
	float Fps = 0.f;
	int32 Quality = 85;
	int32 MaxDatagram = 1200;
	float MaxPlayoutDelay = 0.25f;  // seconds
	int32 ReceiveBufferBytes = 4 * 1024 * 1024;
	FString EngineName;
};

/** Something that happened in the session, handed to the game thread. */
struct FYumeBridgeSessionEvent
{
	enum class EKind : uint8
	{
		Connected,
		UploadProgress,
		UploadComplete,
		Started,
		EventAcknowledged,
		Status,
		RoundTrip,
		Error,
		Closed,
	};

	EKind Kind = EKind::Error;
	FYumeBridgeSessionInfo Info;  // Connected
	FYumeBridgeStatus Status;     // Status
	FString Code;                 // Error, Closed: the error code name ("ok" for an orderly close)
	yumebridge::ErrorCode CoreCode = yumebridge::ErrorCode::Ok;  // Closed: the same code, for diagnose()
	FString Message;              // Error, Closed: a sentence for the log and the user
	FString Context;              // Error: session, upload, start, event or config
	int64 First = 0;              // UploadProgress: received; Started: world; EventAcknowledged: id; Error: event id or -1
	int64 Second = 0;             // UploadProgress: size; Started: seed; EventAcknowledged: chunk
	bool bFlag = false;           // Started: inferred from a status; Closed: it was an error
	float Milliseconds = 0.f;     // RoundTrip: smoothed round-trip time
	TArray<int32> ActiveEvents;   // EventAcknowledged
};

/** A decoded frame, ready for the texture. */
struct FYumeBridgeDecodedFrame
{
	TArray64<uint8> Pixels;  // BGRA8, tightly packed
	int32 Width = 0;
	int32 Height = 0;
	FYumeBridgeFrameInfo Info;
};

/**
 * Decodes the waiting JPEGs on its own thread, oldest first; decoded frames wait in order for the game
 * thread. Both queues are FrameQueues: when one is full, its oldest frame is dropped.
 * Steady state allocates nothing of its own: the queues' slots and the work buffers keep their
 * capacity and swap, and one image wrapper is reused. (The engine's JPEG wrapper allocates its output
 * inside GetRaw; see the README.)
 */
class FYumeBridgeFrameDecoder final : public FRunnable
{
public:
	explicit FYumeBridgeFrameDecoder(IImageWrapperModule& InImageWrapperModule);
	virtual ~FYumeBridgeFrameDecoder() override;

	bool Launch();
	void Shutdown();

	/** Copies the JPEG into a slot of the waiting queue, whose buffer is reused from frame to frame. */
	void Submit(const uint8* Jpeg, int32 Size, const FYumeBridgeFrameInfo& Info);

	/**
	 * The decoded frame to show on this tick (call it at most once per tick), swapped into Out, whose
	 * previous buffer goes back to the decoder: the oldest, or the newest when more than
	 * kFrameQueueMaxBacklog wait. Info.FramesSkipped adds the frames both queues dropped so far.
	 */
	bool TakeDecoded(FYumeBridgeDecodedFrame& Out);

	virtual uint32 Run() override;
	virtual void Stop() override;

private:
	struct FPendingJpeg
	{
		TArray<uint8> Jpeg;
		FYumeBridgeFrameInfo Info;
	};

	IImageWrapperModule& ImageWrapperModule;
	FCriticalSection Lock;
	yumebridge::FrameQueue<FPendingJpeg> Jpegs;               // guarded by Lock
	FPendingJpeg Work;                                         // the decoder thread's own; swapped with a slot of Jpegs
	yumebridge::FrameQueue<FYumeBridgeDecodedFrame> Decoded;  // guarded by Lock
	int32 Failures = 0;
	FEvent* WorkEvent = nullptr;
	FRunnableThread* Thread = nullptr;
	std::atomic<bool> bStopping{false};
};

class FYumeBridgeSession final : public FRunnable
{
public:
	explicit FYumeBridgeSession(const FYumeBridgeConnectOptions& InOptions);
	virtual ~FYumeBridgeSession() override;

	/** Starts the handshake and the threads. False, with a reason, if they cannot start. */
	bool Launch(FString& OutError);

	/** Says bye if connected, then stops and joins the threads. Safe to call twice. */
	void Shutdown(bool bSayBye);

	const FYumeBridgeConnectOptions& GetOptions() const { return Options; }

	// ---- requests from the game thread (thread-safe; errors are returned as text) ----

	void SetInput(const FVector2D& Move, const FVector2D& LookAxes, const TArray<FString>& Keys);
	bool SendEvent(const FString& Text, int32& OutId, FString& OutError);
	bool SetEvent(int32 Id, const FString& Text, FString& OutError);
	bool StartFromImage(TArray<uint8>&& FileBytes, const FString& Prompt, TOptional<uint32> Seed, FString& OutError);
	bool StartFromText(const FString& Prompt, TOptional<uint32> Seed, FString& OutError);
	bool StartDefault(const FString& Prompt, TOptional<uint32> Seed, FString& OutError);
	bool Configure(TOptional<int32> Quality, TOptional<float> Fps, TOptional<bool> bPaused, FString& OutError);

	// ---- results for the game thread ----

	bool PollEvent(FYumeBridgeSessionEvent& Out) { return Events.Dequeue(Out); }

	/** Queues an error for the game thread; callable from any thread (e.g. a texture readback task). */
	void ReportError(const FString& Code, const FString& Message, const FString& Context);
	bool TakeDecodedFrame(FYumeBridgeDecodedFrame& Out) { return Decoder.IsValid() && Decoder->TakeDecoded(Out); }
	bool IsRunning() const { return !bStopping.load(); }

	// ---- FRunnable (the network thread) ----

	virtual uint32 Run() override;
	virtual void Stop() override;

private:
	static int64 NowMicroseconds();
	static std::string ToUtf8(const FString& Text);
	static FString FromUtf8(const std::string& Text);

	bool ResolveCandidates(FString& OutError);
	bool OpenSocketForCandidate(FString& OutError);
	bool TryNextCandidate(const TCHAR* Why);
	static yumebridge::Nonce MakeNonce();
	void ReceiveAllLocked(int64 Now);
	void FlushLocked();
	void DrainLocked();
	void PushClosed(yumebridge::ErrorCode Code, const FString& Message);

	FYumeBridgeConnectOptions Options;
	FCriticalSection CoreLock;
	yumebridge::Connection Core;
	TArray<FString> Movement;  // vocabulary, for frame info
	TArray<FString> Look;

	ISocketSubsystem* SocketSubsystem = nullptr;
	FSocket* Socket = nullptr;  // set under CoreLock once open
	/** Every address the host resolved to, IPv4 first; the handshake tries them in turn. */
	TArray<TSharedPtr<FInternetAddr>> Candidates;
	int32 CandidateIndex = 0;
	TSharedPtr<FInternetAddr> DaemonAddress;
	TSharedPtr<FInternetAddr> SenderAddress;
	TArray<uint8> ReceiveBuffer;
	bool bPortUnreachable = false;
	int64 ChunksCut = 0;  // frames with after_cut taken from the core in this session

	// Several producers: the network thread and, for a start from a texture, a background task.
	TQueue<FYumeBridgeSessionEvent, EQueueMode::Mpsc> Events;
	TUniquePtr<FYumeBridgeFrameDecoder> Decoder;
	FRunnableThread* Thread = nullptr;
	std::atomic<bool> bStopping{false};
	bool bShutDown = false;
};
