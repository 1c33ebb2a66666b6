// Finding daemons by DNS-SD and testing a connection, for Blueprints (the Find node), the editor
// module (Project Settings' "Test connection") and game code. Both work off the game thread and
// answer on it.
#pragma once

#include "CoreMinimal.h"
#include "Kismet/BlueprintAsyncActionBase.h"
#include "YumeBridgeTypes.h"

#include "YumeBridgeTools.generated.h"

class YUMEBRIDGE_API FYumeBridgeTools
{
public:
	/**
	 * Browses `_yume-bridge._udp.local.` for Seconds (multicast on the LAN and a direct query to
	 * this machine), then calls OnDone on the game thread with every daemon that answered.
	 */
	static void FindDaemons(float Seconds, TFunction<void(const TArray<FYumeBridgeDaemon>&)> OnDone);

	/**
	 * Opens a session with the daemon at Host:Port (empty/0: the project settings) and closes it
	 * again. OnDone gets true and the daemon's description, or false and why it failed and how to fix it.
	 */
	static void TestConnection(const FString& Host, int32 Port, const FString& Token,
		TFunction<void(bool bOk, const FString& Message)> OnDone);
};

/** The "Find Yume Bridge Daemons" Blueprint node. */
UCLASS()
class YUMEBRIDGE_API UYumeBridgeFindDaemons : public UBlueprintAsyncActionBase
{
	GENERATED_BODY()

public:
	/** Looks for yume_bridge daemons on this machine and the LAN for Seconds; OnFound lists them (maybe none). */
	UFUNCTION(BlueprintCallable, Category = "Yume Bridge", meta = (BlueprintInternalUseOnly = "true", DisplayName = "Find Yume Bridge Daemons"))
	static UYumeBridgeFindDaemons* FindYumeBridgeDaemons(float Seconds = 2.f);

	UPROPERTY(BlueprintAssignable, Category = "Yume Bridge")
	FYumeBridgeDaemonsFoundSignature OnFound;

	virtual void Activate() override;

private:
	float Seconds = 2.f;
};
