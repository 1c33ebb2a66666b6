// UYumeBridgeComponent: a view of one of the game instance's yume_bridge connections, to put on a
// pawn (or any actor). The connection itself lives in UYumeBridgeSubsystem and outlives the actor:
// a respawned pawn picks the running stream up again, and level travel does not end it. The
// component forwards calls and re-broadcasts the connection's events on its own delegates.
#pragma once

#include "Components/ActorComponent.h"
#include "CoreMinimal.h"
#include "YumeBridgeTypes.h"

#include "YumeBridgeComponent.generated.h"

class UTexture;
class UTexture2D;
class UTextureRenderTarget2D;
class UYumeBridgeConnection;

UCLASS(ClassGroup = (YumeBridge), meta = (BlueprintSpawnableComponent), DisplayName = "Yume Bridge")
class YUMEBRIDGE_API UYumeBridgeComponent : public UActorComponent
{
	GENERATED_BODY()

public:
	UYumeBridgeComponent();

	/** Which of the game instance's connections this component shows; None is "Default". */
	UPROPERTY(EditAnywhere, BlueprintReadOnly, Category = "Yume Bridge")
	FName ConnectionName;

	/**
	 * Connect on BeginPlay with the project settings and start from the default scene, unless the
	 * connection already runs (a respawned pawn). Only the copy that is locally controlled connects:
	 * never on a dedicated server, never on simulated proxies, once per PIE player.
	 */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Yume Bridge")
	bool bConnectOnBeginPlay = false;

	/** End the connection when this component ends play (off: the stream survives the actor). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Yume Bridge")
	bool bDisconnectOnEndPlay = false;

	/** A render target asset that receives every frame; handed to the connection on BeginPlay. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Yume Bridge")
	TObjectPtr<UTextureRenderTarget2D> OutputRenderTarget;

	/** Seed for the next start from this component; -1 lets the daemon pick one. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Yume Bridge")
	int64 Seed = -1;

	/** Multiplies SetLook's input (e.g. about 0.05 turns mouse deltas into a [-1, 1] rate). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Yume Bridge")
	float LookScale = 1.f;

	/** The connection this component shows (created on first use). */
	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	UYumeBridgeConnection* GetConnection() const;

	// ---- forwarded to the connection (see UYumeBridgeConnection) ----

	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool Connect(const FString& Host = TEXT(""), int32 Port = 0, const FString& Token = TEXT(""));
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void Disconnect();
	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	EYumeBridgeConnectionState GetConnectionState() const;
	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	bool IsConnected() const;
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool StartFromTexture(UTexture* Texture, const FString& Prompt = TEXT(""));
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool StartFromImageFile(const FString& Path, const FString& Prompt = TEXT(""));
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool StartFromPrompt(const FString& Prompt);
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool StartFromDefault(const FString& Prompt = TEXT(""));
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void SetMovement(FVector2D Movement);
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void SetLook(FVector2D Look);
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void SetHeldKeys(const TArray<FString>& Keys);
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	int32 SendEventPrompt(const FString& Text);
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool UpdateEventPrompt(int32 EventId, const FString& Text);
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool ClearEventPrompt(int32 EventId);
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool SetPaused(bool bPaused);
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	bool SetStreamSettings(int32 Quality, float Fps);
	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	UTexture2D* GetFrameTexture() const;
	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	FYumeBridgeStatus GetLastStatus() const;
	UFUNCTION(BlueprintPure, Category = "Yume Bridge")
	FYumeBridgeSessionInfo GetSessionInfo() const;

	// ---- the connection's events, re-broadcast here ----

	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeConnectedSignature OnConnected;
	/** A new frame is in the texture (the same UTexture2D every time). */
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeFrameSignature OnFrame;
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeStartedSignature OnStarted;
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeEventAcknowledgedSignature OnEventAcknowledged;
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeStatusSignature OnStatus;
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeErrorSignature OnError;
	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeDisconnectedSignature OnDisconnected;

	// UActorComponent
	virtual void BeginPlay() override;
	virtual void EndPlay(const EEndPlayReason::Type EndPlayReason) override;
	virtual void TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction) override;

private:
	enum class ELocalControl : uint8 { Yes, No, NotYetKnown };
	ELocalControl IsLocallyControlledCopy() const;
	void ConnectOnBeginPlay();
};
