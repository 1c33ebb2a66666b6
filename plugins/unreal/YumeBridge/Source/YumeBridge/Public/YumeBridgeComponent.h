// UYumeBridgeComponent: put it on a pawn (or any actor) to stream a yume_bridge world into a texture
// and steer it with movement, look and event prompts. All network and decode work happens off the
// game thread; the frame texture is one UTexture2D, updated in place, at most once per game frame.
#pragma once

#include "Components/ActorComponent.h"
#include "CoreMinimal.h"
#include "YumeBridgeTypes.h"

#include <atomic>

#include "YumeBridgeComponent.generated.h"

class FYumeBridgeSession;
class UTexture2D;
struct FYumeBridgeSessionEvent;

UCLASS(ClassGroup = (YumeBridge), meta = (BlueprintSpawnableComponent), DisplayName = "Yume Bridge")
class YUMEBRIDGE_API UYumeBridgeComponent : public UActorComponent
{
	GENERATED_BODY()

public:
	UYumeBridgeComponent();

	// ---- connection ----

	/**
	 * Connects to a running `yume-bridge serve`. An empty Host, Port 0 or an empty Token take the
	 * project's Yume Bridge settings. Returns false (and fires OnError) only if the connection cannot
	 * even start; the outcome of the handshake arrives as OnConnected or OnError + OnDisconnected.
	 */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool Connect(const FString& Host = TEXT(""), int32 Port = 0, const FString& Token = TEXT(""));

	/** Says bye to the daemon and stops the stream. The frame texture keeps its last image. */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void Disconnect();

	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	EYumeBridgeConnectionState GetConnectionState() const { return ConnectionState; }

	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	bool IsConnected() const { return ConnectionState == EYumeBridgeConnectionState::Connected; }

	// ---- starting a world (may be called right after Connect; sent once connected) ----

	/**
	 * Starts a world from a texture: it is encoded to JPEG, uploaded and started from. Works with
	 * textures whose pixels are readable on the CPU: in the editor any 8-bit texture, in a packaged
	 * game uncompressed (B8G8R8A8) ones such as render-target snapshots or textures with
	 * "VectorDisplacementmap" / "UserInterface2D (RGBA)" compression. Prompt optionally describes it.
	 */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool StartFromTexture(UTexture2D* Texture, const FString& Prompt = TEXT(""));

	/** Starts a world from a JPEG or PNG file on disk (uploaded as is). */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool StartFromImageFile(const FString& Path, const FString& Prompt = TEXT(""));

	/** Starts a world from a text description alone. */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool StartFromPrompt(const FString& Prompt);

	/** Starts from the daemon's configured start image, or its built-in scene. */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool StartFromDefault(const FString& Prompt = TEXT(""));

	/** Seed for the next start; -1 lets the daemon pick one (same seed + same inputs = same world). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Yume Bridge")
	int64 Seed = -1;

	// ---- steering ----

	/** X = strafe right, Y = forward, each clamped to [-1, 1]. Bind an Enhanced Input Axis2D action. */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void SetMovement(FVector2D Movement);

	/** X = yaw right, Y = pitch up, scaled by LookScale and clamped to [-1, 1]. */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void SetLook(FVector2D Look);

	/** Held keys as W3C KeyboardEvent.code (KeyW, ArrowLeft, ...); a held key overrides its axis. */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void SetHeldKeys(const TArray<FString>& Keys);

	/** Multiplies SetLook's input, e.g. to turn mouse deltas into a [-1, 1] rate. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Yume Bridge")
	float LookScale = 1.f;

	/**
	 * Sends an event prompt ("a dragon circles the tower"); it is retransmitted until the daemon
	 * acknowledges it (OnEventAcknowledged). Returns the event's id, or -1 (and fires OnError).
	 */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	int32 SendEventPrompt(const FString& Text);

	/** Replaces the text of event EventId; an empty text removes it. */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool UpdateEventPrompt(int32 EventId, const FString& Text);

	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool ClearEventPrompt(int32 EventId);

	/** Pauses or resumes generation (a paused session keeps alive with pings). */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool SetPaused(bool bPaused);

	/** Changes JPEG quality (1-100) and playback rate (1-240); 0 leaves a value as it is. */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool SetStreamSettings(int32 Quality, float Fps);

	// ---- output ----

	/** The frame texture: created on connect at the stream's size, then updated in place. */
	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	UTexture2D* GetFrameTexture() const { return FrameTexture; }

	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	const FYumeBridgeStatus& GetLastStatus() const { return LastStatus; }

	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	const FYumeBridgeSessionInfo& GetSessionInfo() const { return SessionInfo; }

	/** Connect on BeginPlay with the project settings, and start from the default scene. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Yume Bridge")
	bool bConnectOnBeginPlay = false;

	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeConnectedSignature OnConnected;

	/** A new frame is in the texture (the same UTexture2D every time). */
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeFrameSignature OnFrame;

	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeStartedSignature OnStarted;

	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeEventAcknowledgedSignature OnEventAcknowledged;

	/** Readiness (loading, warming, ready, generating, paused, error) and latency, about once a second. */
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeStatusSignature OnStatus;

	/** Code (e.g. auth_failed, daemon_unreachable, text_too_long) and a readable reason. */
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeErrorSignature OnError;

	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeDisconnectedSignature OnDisconnected;

	// UActorComponent
	virtual void BeginPlay() override;
	virtual void EndPlay(const EEndPlayReason::Type EndPlayReason) override;
	virtual void TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction) override;

private:
	void HandleEvent(const FYumeBridgeSessionEvent& Event);
	void UploadNewestFrame();
	void EnsureTexture(int32 Width, int32 Height);
	void ReportError(const FString& Code, const FString& Reason);
	void EndSession(bool bSayBye);
	bool CanRequest(const TCHAR* What);
	TOptional<uint32> SeedForStart() const;
	static bool EncodeTextureAsJpeg(UTexture2D* Texture, TArray<uint8>& OutJpeg, FString& OutError);

	UPROPERTY(Transient)
	TObjectPtr<UTexture2D> FrameTexture;

	UPROPERTY(Transient)
	FYumeBridgeStatus LastStatus;

	UPROPERTY(Transient)
	FYumeBridgeSessionInfo SessionInfo;

	EYumeBridgeConnectionState ConnectionState = EYumeBridgeConnectionState::Disconnected;
	// Shared pointers, because their deleters are bound where the types are complete (the .cpp), which
	// the destructor UHT generates for this class needs.
	TSharedPtr<FYumeBridgeSession, ESPMode::ThreadSafe> Session;
	FString SessionHost;
	int32 SessionPort = 0;

	FVector2D PendingMovement = FVector2D::ZeroVector;
	FVector2D PendingLook = FVector2D::ZeroVector;
	TArray<FString> PendingKeys;
	bool bInputDirty = false;

	/** Set while a texture update is queued on the render thread; cleared there when it is done. */
	TSharedPtr<std::atomic<bool>, ESPMode::ThreadSafe> UploadInFlight;
	int64 FramesDisplayed = 0;
};
