// UYumeBridgeSubsystem: owns the game instance's connections to yume_bridge daemons, by name, so a
// stream outlives the pawn or level that started it, and ticks them, also while the game is paused.
#pragma once

#include "CoreMinimal.h"
#include "Subsystems/GameInstanceSubsystem.h"
#include "Tickable.h"

#include "YumeBridgeSubsystem.generated.h"

class UYumeBridgeConnection;

UCLASS()
class YUMEBRIDGE_API UYumeBridgeSubsystem : public UGameInstanceSubsystem, public FTickableGameObject
{
	GENERATED_BODY()

public:
	/** The connection called Name ("Default" when None), created on first use. */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	UYumeBridgeConnection* GetConnection(FName Name = NAME_None);

	/** Disconnects and forgets the connection called Name. */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge")
	void CloseConnection(FName Name = NAME_None);

	// USubsystem
	virtual void Deinitialize() override;

	// FTickableGameObject
	virtual void Tick(float DeltaTime) override;
	virtual TStatId GetStatId() const override;
	virtual ETickableTickType GetTickableTickType() const override;
	virtual bool IsTickable() const override;
	virtual bool IsTickableWhenPaused() const override { return true; }  // a paused game keeps its stream
	virtual bool IsTickableInEditor() const override { return false; }

private:
	static FName KeyOf(FName Name) { return Name.IsNone() ? FName(TEXT("Default")) : Name; }

	UPROPERTY(Transient)
	TMap<FName, TObjectPtr<UYumeBridgeConnection>> Connections;
};
