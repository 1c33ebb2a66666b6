#include "YumeBridgeComponent.h"

#include "YumeBridgeConnection.h"
#include "YumeBridgeModule.h"
#include "YumeBridgeSubsystem.h"

#include "Engine/GameInstance.h"
#include "Engine/World.h"
#include "GameFramework/Controller.h"
#include "GameFramework/Pawn.h"

UYumeBridgeComponent::UYumeBridgeComponent()
{
	// The component only ticks while it waits to learn whether its pawn is locally controlled.
	PrimaryComponentTick.bCanEverTick = true;
	PrimaryComponentTick.bStartWithTickEnabled = false;
	PrimaryComponentTick.bTickEvenWhenPaused = true;
}

UYumeBridgeConnection* UYumeBridgeComponent::GetConnection() const
{
	const UWorld* World = GetWorld();
	UGameInstance* GameInstance = World != nullptr ? World->GetGameInstance() : nullptr;
	UYumeBridgeSubsystem* Subsystem = GameInstance != nullptr ? GameInstance->GetSubsystem<UYumeBridgeSubsystem>() : nullptr;
	return Subsystem != nullptr ? Subsystem->GetConnection(ConnectionName) : nullptr;
}

UYumeBridgeComponent::ELocalControl UYumeBridgeComponent::IsLocallyControlledCopy() const
{
	const AActor* Owner = GetOwner();
	if (Owner == nullptr || GetNetMode() == NM_DedicatedServer)
	{
		return ELocalControl::No;  // a dedicated server shows no frames to anyone
	}
	if (const APawn* Pawn = Cast<APawn>(Owner))
	{
		if (Pawn->GetController() == nullptr)
		{
			// Not possessed yet (or a remote player's pawn on a client, which never gets one).
			return Pawn->GetLocalRole() == ROLE_SimulatedProxy ? ELocalControl::No : ELocalControl::NotYetKnown;
		}
		return Pawn->IsLocallyControlled() ? ELocalControl::Yes : ELocalControl::No;
	}
	if (const AController* Controller = Cast<AController>(Owner))
	{
		return Controller->IsLocalController() ? ELocalControl::Yes : ELocalControl::No;
	}
	// Any other actor: not on copies replicated from elsewhere.
	return Owner->GetLocalRole() == ROLE_SimulatedProxy ? ELocalControl::No : ELocalControl::Yes;
}

void UYumeBridgeComponent::BeginPlay()
{
	Super::BeginPlay();
	UYumeBridgeConnection* Connection = GetConnection();
	if (Connection == nullptr)
	{
		return;
	}
	Connection->AddView(this);
	if (OutputRenderTarget != nullptr)
	{
		Connection->OutputRenderTarget = OutputRenderTarget;
	}
	if (bConnectOnBeginPlay)
	{
		ConnectOnBeginPlay();
	}
}

void UYumeBridgeComponent::ConnectOnBeginPlay()
{
	switch (IsLocallyControlledCopy())
	{
	case ELocalControl::NotYetKnown:
		SetComponentTickEnabled(true);  // decided once the pawn is possessed
		return;
	case ELocalControl::No:
		SetComponentTickEnabled(false);
		UE_LOG(LogYumeBridge, Verbose, TEXT("%s: not the locally controlled copy, so it does not connect."), *GetName());
		return;
	case ELocalControl::Yes:
		SetComponentTickEnabled(false);
		break;
	}
	UYumeBridgeConnection* Connection = GetConnection();
	if (Connection == nullptr || Connection->GetConnectionState() != EYumeBridgeConnectionState::Disconnected)
	{
		return;  // already streaming (a respawned pawn takes the running stream over)
	}
	Connection->Seed = Seed;
	if (Connection->Connect())
	{
		Connection->StartFromDefault();
	}
}

void UYumeBridgeComponent::TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction)
{
	Super::TickComponent(DeltaTime, TickType, ThisTickFunction);
	ConnectOnBeginPlay();
}

void UYumeBridgeComponent::EndPlay(const EEndPlayReason::Type EndPlayReason)
{
	if (UYumeBridgeConnection* Connection = GetConnection())
	{
		Connection->RemoveView(this);
		if (bDisconnectOnEndPlay)
		{
			Connection->Disconnect();
		}
	}
	Super::EndPlay(EndPlayReason);
}

// ---- forwarding ----

bool UYumeBridgeComponent::Connect(const FString& Host, int32 Port, const FString& Token)
{
	UYumeBridgeConnection* Connection = GetConnection();
	return Connection != nullptr && Connection->Connect(Host, Port, Token);
}

void UYumeBridgeComponent::Disconnect()
{
	if (UYumeBridgeConnection* Connection = GetConnection())
	{
		Connection->Disconnect();
	}
}

EYumeBridgeConnectionState UYumeBridgeComponent::GetConnectionState() const
{
	const UYumeBridgeConnection* Connection = GetConnection();
	return Connection != nullptr ? Connection->GetConnectionState() : EYumeBridgeConnectionState::Disconnected;
}

bool UYumeBridgeComponent::IsConnected() const
{
	return GetConnectionState() == EYumeBridgeConnectionState::Connected;
}

bool UYumeBridgeComponent::StartFromTexture(UTexture* Texture, const FString& Prompt)
{
	UYumeBridgeConnection* Connection = GetConnection();
	if (Connection != nullptr)
	{
		Connection->Seed = Seed;  // this component's seed for its starts
	}
	return Connection != nullptr && Connection->StartFromTexture(Texture, Prompt);
}

bool UYumeBridgeComponent::StartFromImageFile(const FString& Path, const FString& Prompt)
{
	UYumeBridgeConnection* Connection = GetConnection();
	if (Connection != nullptr)
	{
		Connection->Seed = Seed;  // this component's seed for its starts
	}
	return Connection != nullptr && Connection->StartFromImageFile(Path, Prompt);
}

bool UYumeBridgeComponent::StartFromPrompt(const FString& Prompt)
{
	UYumeBridgeConnection* Connection = GetConnection();
	if (Connection != nullptr)
	{
		Connection->Seed = Seed;  // this component's seed for its starts
	}
	return Connection != nullptr && Connection->StartFromPrompt(Prompt);
}

bool UYumeBridgeComponent::StartFromDefault(const FString& Prompt)
{
	UYumeBridgeConnection* Connection = GetConnection();
	if (Connection != nullptr)
	{
		Connection->Seed = Seed;  // this component's seed for its starts
	}
	return Connection != nullptr && Connection->StartFromDefault(Prompt);
}

void UYumeBridgeComponent::SetMovement(FVector2D Movement)
{
	if (UYumeBridgeConnection* Connection = GetConnection())
	{
		Connection->SetMovement(Movement);
	}
}

void UYumeBridgeComponent::SetLook(FVector2D Look)
{
	if (UYumeBridgeConnection* Connection = GetConnection())
	{
		Connection->SetLookUnscaled(Look * LookScale);  // the component's own scale applies
	}
}

void UYumeBridgeComponent::SetHeldKeys(const TArray<FString>& Keys)
{
	if (UYumeBridgeConnection* Connection = GetConnection())
	{
		Connection->SetHeldKeys(Keys);
	}
}

int32 UYumeBridgeComponent::SendEventPrompt(const FString& Text)
{
	UYumeBridgeConnection* Connection = GetConnection();
	return Connection != nullptr ? Connection->SendEventPrompt(Text) : -1;
}

bool UYumeBridgeComponent::UpdateEventPrompt(int32 EventId, const FString& Text)
{
	UYumeBridgeConnection* Connection = GetConnection();
	return Connection != nullptr && Connection->UpdateEventPrompt(EventId, Text);
}

bool UYumeBridgeComponent::ClearEventPrompt(int32 EventId)
{
	return UpdateEventPrompt(EventId, FString());
}

bool UYumeBridgeComponent::SetPaused(bool bPaused)
{
	UYumeBridgeConnection* Connection = GetConnection();
	return Connection != nullptr && Connection->SetPaused(bPaused);
}

bool UYumeBridgeComponent::SetStreamSettings(int32 Quality, float Fps)
{
	UYumeBridgeConnection* Connection = GetConnection();
	return Connection != nullptr && Connection->SetStreamSettings(Quality, Fps);
}

UTexture2D* UYumeBridgeComponent::GetFrameTexture() const
{
	const UYumeBridgeConnection* Connection = GetConnection();
	return Connection != nullptr ? Connection->GetFrameTexture() : nullptr;
}

FYumeBridgeStatus UYumeBridgeComponent::GetLastStatus() const
{
	const UYumeBridgeConnection* Connection = GetConnection();
	return Connection != nullptr ? Connection->GetLastStatus() : FYumeBridgeStatus();
}

FYumeBridgeSessionInfo UYumeBridgeComponent::GetSessionInfo() const
{
	const UYumeBridgeConnection* Connection = GetConnection();
	return Connection != nullptr ? Connection->GetSessionInfo() : FYumeBridgeSessionInfo();
}
