// UYumeBridgeConnection: one stream from a yume_bridge daemon, owned by the game instance's
// UYumeBridgeSubsystem, so it survives pawn respawn and level travel. Components are views of it.
// All network and decode work happens off the game thread; the frame texture is one UTexture2D,
// updated in place at most once per game frame, and copied into OutputRenderTarget when one is set.
#pragma once

#include "CoreMinimal.h"
#include "UObject/Object.h"
#include "UObject/WeakObjectPtr.h"
#include "YumeBridgeTypes.h"

#include "YumeBridgeConnection.generated.h"

class FYumeBridgeSession;
class UTexture;
class UTexture2D;
class UTextureRenderTarget2D;
class UYumeBridgeComponent;
struct FYumeBridgeSessionEvent;
struct FYumeBridgeUploadTicket;
struct FYumeBridgeBackoff;
struct FYumeBridgeDecodedFrame;

UCLASS(BlueprintType, Transient)
class YUMEBRIDGE_API UYumeBridgeConnection : public UObject
{
	GENERATED_BODY()

public:
	virtual void BeginDestroy() override;
	virtual UWorld* GetWorld() const override;

	// ---- connection ----

	/**
	 * Connects to a running `yume-bridge serve`. An empty Host or Port 0 take the project's settings;
	 * an empty Token takes YUME_BRIDGE_TOKEN, then the per-user setting. Returns false (and fires
	 * OnError) only if the connection cannot even start; the handshake's outcome arrives as
	 * OnConnected or OnError + OnDisconnected. Safe to call from any of this object's events.
	 */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool Connect(const FString& Host = TEXT(""), int32 Port = 0, const FString& Token = TEXT(""));

	/** Says bye to the daemon, stops the stream and any pending reconnect. The textures keep their last image. */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void Disconnect();

	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	EYumeBridgeConnectionState GetConnectionState() const { return ConnectionState; }

	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	bool IsConnected() const { return ConnectionState == EYumeBridgeConnectionState::Connected; }

	/** Reconnect with capped exponential backoff when a session ends for a reason retrying may cure. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Yume Bridge")
	bool bAutoReconnect = true;

	// ---- starting a world (may be called right after Connect; sent once connected) ----

	/**
	 * Starts a world from any texture or render target. The pixels are read back on the render
	 * thread and JPEG-encoded on a background thread; the game thread never waits. Works in
	 * packaged games with compressed and streamed textures too (what the GPU shows is what is sent).
	 */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool StartFromTexture(UTexture* Texture, const FString& Prompt = TEXT(""));

	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool StartFromImageFile(const FString& Path, const FString& Prompt = TEXT(""));

	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool StartFromPrompt(const FString& Prompt);

	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool StartFromDefault(const FString& Prompt = TEXT(""));

	/** Seed for the next start; -1 lets the daemon pick one. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Yume Bridge")
	int64 Seed = -1;

	// ---- steering ----

	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void SetMovement(FVector2D Movement);

	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void SetLook(FVector2D Look);

	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void SetHeldKeys(const TArray<FString>& Keys);

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Yume Bridge")
	float LookScale = 1.f;

	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	int32 SendEventPrompt(const FString& Text);

	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool UpdateEventPrompt(int32 EventId, const FString& Text);

	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool SetPaused(bool bPaused);

	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool SetStreamSettings(int32 Quality, float Fps);

	// ---- output ----

	/** The transient frame texture: created at the stream's size, then updated in place. */
	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	UTexture2D* GetFrameTexture() const { return FrameTexture; }

	/**
	 * A render target of your own (an asset, so materials can use it in the editor) that receives
	 * every displayed frame, scaled to its size. Optional; the frame texture is updated either way.
	 */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Yume Bridge")
	TObjectPtr<UTextureRenderTarget2D> OutputRenderTarget;

	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	const FYumeBridgeStatus& GetLastStatus() const { return LastStatus; }

	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	const FYumeBridgeSessionInfo& GetSessionInfo() const { return SessionInfo; }

	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeConnectedSignature OnConnected;
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeFrameSignature OnFrame;
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeStartedSignature OnStarted;
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeEventAcknowledgedSignature OnEventAcknowledged;
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeStatusSignature OnStatus;
	/** Code (daemon_unreachable, auth_failed, unsupported_version, session_limit, ...) and a sentence that says how to fix it. */
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeErrorSignature OnError;
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeDisconnectedSignature OnDisconnected;

	// ---- driven by the subsystem and the components ----

	/**
	 * Polls the session, uploads the next decoded frame (at most one per tick), reconnects when due.
	 * Runs while the game is paused too.
	 */
	void Tick(float DeltaTime);

	/** SetLook without this connection's LookScale: a component applies its own. */
	void SetLookUnscaled(FVector2D Look);

	void AddView(UYumeBridgeComponent* View);
	void RemoveView(UYumeBridgeComponent* View);
	int32 NumViews() const;

private:
	bool StartSession();
	void HandleEvent(const FYumeBridgeSessionEvent& Event);
	void HandleClosed(const FYumeBridgeSessionEvent& Event);
	void UploadNextFrame();
	void CopyToRenderTarget();
	void EnsureTexture(int32 Width, int32 Height);
	void ReportError(const FString& Code, const FString& Reason);
	void EndSession(bool bSayBye);
	bool CanRequest(const TCHAR* What);
	TOptional<uint32> SeedForStart() const;
	FString ResolveToken(const FString& Token) const;

	UPROPERTY(Transient)
	TObjectPtr<UTexture2D> FrameTexture;

	UPROPERTY(Transient)
	FYumeBridgeStatus LastStatus;

	UPROPERTY(Transient)
	FYumeBridgeSessionInfo SessionInfo;

	TArray<TWeakObjectPtr<UYumeBridgeComponent>> Views;

	EYumeBridgeConnectionState ConnectionState = EYumeBridgeConnectionState::Disconnected;
	TSharedPtr<FYumeBridgeSession, ESPMode::ThreadSafe> Session;
	FString SessionHost;
	int32 SessionPort = 0;
	FString SessionToken;

	/** Counts sessions; an event handler that starts a new session is noticed by the poll loop. */
	uint32 SessionGeneration = 0;
	double ReconnectAt = 0.0;
	TSharedPtr<FYumeBridgeBackoff, ESPMode::ThreadSafe> Backoff;  // the core's reconnect schedule

	/** Where StartFromTexture draws a texture that is not a render target, to read it back. */
	UPROPERTY(Transient)
	TObjectPtr<UTextureRenderTarget2D> ReadbackTarget;

	FVector2D PendingMovement = FVector2D::ZeroVector;
	FVector2D PendingLook = FVector2D::ZeroVector;
	TArray<FString> PendingKeys;
	bool bInputDirty = false;

	/**
	 * The pixels and region of the texture update, reused from frame to frame. A queued render
	 * command holds a second reference until it has run; UpdateTextureRegions drops its copy at
	 * once when it skips the command (no resource yet, a texture being rebuilt), so "in flight" is
	 * "someone else holds the ticket", and a skipped update can never leave the stream frozen.
	 * Shared pointers, because their deleters are bound where the types are complete (the .cpp),
	 * which the destructor UHT generates for this class needs.
	 */
	TSharedPtr<FYumeBridgeUploadTicket, ESPMode::ThreadSafe> UploadTicket;
	TSharedPtr<FYumeBridgeDecodedFrame, ESPMode::ThreadSafe> DecodedFrame;
	int64 FramesDisplayed = 0;
};
